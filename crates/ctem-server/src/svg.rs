//! Hand-written SVG for the dashboard: a KPI's trend from the daily snapshots, and attack
//! paths as a layered graph with the choke points marked. No script, no library: the
//! browser draws what the server wrote, and every mark has a `<title>` a screen reader and
//! a tooltip read.

use std::collections::HashMap;
use std::fmt::Write as _;

use ctem_paths::query::AttackPath;

use crate::web::esc;

/// A number as the charts print it: at most 3 decimals, no trailing zeros.
pub fn num(v: f64) -> String {
    ctem_measure::report::num(v)
}

/// One KPI's trend: `points` are (day, value), oldest first; a day without a value leaves a
/// gap in the line (never a zero). `id` names the chart element.
pub fn trend(id: &str, title: &str, unit: &str, points: &[(String, Option<f64>)]) -> String {
    let (w, h, left, right, top, bottom) = (360.0, 150.0, 44.0, 12.0, 14.0, 26.0);
    let vals: Vec<f64> = points.iter().filter_map(|p| p.1).collect();
    let (mut lo, mut hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if vals.is_empty() {
        (lo, hi) = (0.0, 1.0);
    }
    if lo > 0.0 && lo < hi {
        // anchor at zero unless the values sit far from it
        lo = if lo < (hi - lo) * 2.0 { 0.0 } else { lo };
    }
    if (hi - lo).abs() < 1e-9 {
        hi = lo + 1.0;
    }
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + i as f64 * (w - left - right) / n;
    let y = |v: f64| top + (hi - v) * (h - top - bottom) / (hi - lo);
    let mut s = format!(
        "<svg id=\"{id}\" class=\"trend\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" \
         aria-label=\"{t}: {n} daily snapshots\"><title>{t}</title>\
         <line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#d0d7de\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#d0d7de\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{hi_s}</text>\
         <text x=\"{lx}\" y=\"{b}\" text-anchor=\"end\">{lo_s}</text>",
        t = esc(title),
        n = points.len(),
        b = h - bottom,
        r = w - right,
        lx = left - 4.0,
        ty = top + 4.0,
        hi_s = esc(&format!("{}{}", num(hi), short_unit(unit))),
        lo_s = esc(&format!("{}{}", num(lo), short_unit(unit))),
    );
    s.push_str(&trend_marks(points, &x, &y));
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            s,
            "<text x=\"{left}\" y=\"{h}\">{}</text><text x=\"{}\" y=\"{h}\" text-anchor=\"end\">{}</text>",
            esc(&first.0),
            w - right,
            esc(&last.0)
        );
    }
    if vals.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no value in any snapshot</text>",
            w / 2.0,
            h / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

/// The lines (one per run of days with a value) and the points of a trend.
fn trend_marks(
    points: &[(String, Option<f64>)],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
) -> String {
    let mut out = String::new();
    // one polyline per run of days with a value
    let mut runs: Vec<Vec<String>> = vec![Vec::new()];
    for (i, (_, v)) in points.iter().enumerate() {
        match (v, runs.last_mut()) {
            (Some(v), Some(run)) => run.push(format!("{:.1},{:.1}", x(i), y(*v))),
            _ => runs.push(Vec::new()),
        }
    }
    for r in runs.iter().filter(|r| r.len() > 1) {
        let _ = write!(
            out,
            "<polyline class=\"line\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"{}\"/>",
            r.join(" ")
        );
    }
    for (i, (day, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                out,
                "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0969da\"><title>{}: {}</title></circle>",
                x(i),
                y(*v),
                esc(day),
                esc(&num(*v))
            );
        }
    }
    out
}

fn short_unit(unit: &str) -> &str {
    match unit {
        "ratio" => "",
        "hours" => " h",
        "days" => " d",
        _ => "",
    }
}

/// A step of the path graph: every exposure (or CVE) that makes it, and whether one of
/// them is a choke point.
struct Edge {
    from: usize,
    to: usize,
    how: Vec<String>,
    choke: bool,
}

/// A node of the path graph.
struct GNode {
    label: String,
    col: usize,
    row: usize,
    entry: bool,
    jewel: bool,
}

/// The union of `paths` as a left-to-right layered graph: entries on the left, crown jewels
/// on the right, one box per attacker state, one arrow per step (labelled with its CVE).
/// Steps through an exposure of `cut` are choke points: drawn thick and red.
pub fn path_graph(paths: &[AttackPath], cut: &[i64]) -> String {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut nodes: Vec<GNode> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    let mut node = |label: &str, nodes: &mut Vec<GNode>| -> usize {
        *index.entry(label.to_string()).or_insert_with(|| {
            nodes.push(GNode {
                label: label.to_string(),
                col: 0,
                row: 0,
                entry: false,
                jewel: false,
            });
            nodes.len() - 1
        })
    };
    for p in paths {
        let mut at = node(&p.entry, &mut nodes);
        nodes[at].entry = true;
        for st in &p.steps {
            let to = node(&st.to, &mut nodes);
            let choke = st.exposure.is_some_and(|x| cut.contains(&x));
            let how = st.cve.clone().or(st.exposure.map(|x| format!("#{x}")));
            match edges.iter_mut().find(|e| e.from == at && e.to == to) {
                Some(e) => {
                    e.choke |= choke;
                    if let Some(h) = how
                        && !e.how.contains(&h)
                    {
                        e.how.push(h);
                    }
                }
                None => edges.push(Edge {
                    from: at,
                    to,
                    how: how.into_iter().collect(),
                    choke,
                }),
            }
            at = to;
        }
        nodes[at].jewel = true;
    }
    layer(&mut nodes, &edges);
    draw(&nodes, &edges)
}

/// Longest-path layering (bounded, so a cycle in the union of paths cannot loop), then rows
/// in order of first appearance within each column.
fn layer(nodes: &mut [GNode], edges: &[Edge]) {
    for _ in 0..nodes.len() {
        let mut changed = false;
        for e in edges {
            let (u, v) = (e.from, e.to);
            if nodes[v].col < nodes[u].col + 1 && nodes[u].col + 1 < nodes.len() {
                nodes[v].col = nodes[u].col + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut used: HashMap<usize, usize> = HashMap::new();
    for n in nodes.iter_mut() {
        let r = used.entry(n.col).or_default();
        n.row = *r;
        *r += 1;
    }
}

/// Box width and height, column and row pitch, and the margin of the path graph.
const BW: f64 = 170.0;
const BH: f64 = 34.0;
const CW: f64 = 280.0;
const RH: f64 = 64.0;
const PAD: f64 = 10.0;

fn draw(nodes: &[GNode], edges: &[Edge]) -> String {
    let cols = nodes.iter().map(|n| n.col + 1).max().unwrap_or(1) as f64;
    let rows = nodes.iter().map(|n| n.row + 1).max().unwrap_or(1) as f64;
    // an edge that skips a column arcs over the boxes in between: room above the first row
    let top = if edges.iter().any(|e| span(nodes, e) > 1) {
        48.0
    } else {
        PAD
    };
    let (w, h) = ((cols - 1.0) * CW + BW + PAD * 2.0, top + rows * RH + PAD);
    let pos = |n: &GNode| (PAD + n.col as f64 * CW, top + n.row as f64 * RH);
    let mut s = format!(
        "<svg id=\"path-graph\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" role=\"img\" \
         aria-label=\"attack paths: {} states, {} steps\"><title>attack paths to the crown jewels</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#57606a\"/></marker>\
         <marker id=\"arrow-cut\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"12\" markerHeight=\"12\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#cf222e\"/></marker></defs>",
        nodes.len(),
        edges.len()
    );
    // labels go on top of boxes and lines, so they are written last
    let mut labels = String::new();
    for (i, e) in edges.iter().enumerate() {
        let (line, label) = edge_svg(nodes, e, i, &pos);
        s.push_str(&line);
        labels.push_str(&label);
    }
    for n in nodes {
        let (x, y) = pos(n);
        let (class, fill) = match (n.entry, n.jewel) {
            (_, true) => ("node jewel", "#ffebe9"),
            (true, _) => ("node entry", "#fff8c5"),
            _ => ("node", "#f6f8fa"),
        };
        let _ = write!(
            s,
            "<g class=\"{class}\"><title>{full}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BW}\" height=\"{BH}\" rx=\"5\" \
             fill=\"{fill}\" stroke=\"#57606a\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\">{short}</text></g>",
            full = esc(&n.label),
            tx = x + 6.0,
            ty = y + BH / 2.0 + 4.0,
            short = esc(&cut_label(&n.label, 27)),
        );
    }
    s.push_str(&labels);
    s.push_str("</svg>");
    s
}

/// One step of the graph: the line (a curve, or an arc over the boxes when it skips a
/// column) and its label.
fn edge_svg(
    nodes: &[GNode],
    e: &Edge,
    i: usize,
    pos: &dyn Fn(&GNode) -> (f64, f64),
) -> (String, String) {
    let (mut line, mut label) = (String::new(), String::new());
    let (ux, uy) = pos(&nodes[e.from]);
    let (vx, vy) = pos(&nodes[e.to]);
    let (x1, y1, x2, y2) = (ux + BW, uy + BH / 2.0, vx, vy + BH / 2.0);
    let (class, stroke, width, marker) = if e.choke {
        ("edge choke", "#cf222e", 3.5, "arrow-cut")
    } else {
        ("edge", "#57606a", 1.5, "arrow")
    };
    let (d, lx, ly) = if span(nodes, e) > 1 {
        // over the boxes: from the top of the source box to the top of the target box
        let (sx, sy, tx, ty) = (ux + BW * 0.75, uy, vx + BW * 0.25, vy);
        let rise = 30.0 + (i % 3) as f64 * 5.0;
        let apex = sy.min(ty) - rise;
        // a cubic whose control points are both at the apex peaks at 3/4 of the rise
        (
            format!("M{sx:.1},{sy:.1} C{sx:.1},{apex:.1} {tx:.1},{apex:.1} {tx:.1},{ty:.1}"),
            (sx + tx) / 2.0,
            sy.min(ty) - 0.75 * rise - 4.0,
        )
    } else {
        let mx = (x1 + x2) / 2.0;
        (
            format!("M{x1:.1},{y1:.1} C{mx:.1},{y1:.1} {mx:.1},{y2:.1} {x2:.1},{y2:.1}"),
            mx,
            (y1 + y2) / 2.0 - 5.0,
        )
    };
    let _ = write!(
        line,
        "<path class=\"{class}\" d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\" \
         marker-end=\"url(#{marker})\"><title>{} → {}{}</title></path>",
        esc(&nodes[e.from].label),
        esc(&nodes[e.to].label),
        if e.how.is_empty() {
            String::new()
        } else {
            format!(" via {}", esc(&e.how.join(", ")))
        }
    );
    if let Some(first) = e.how.first() {
        let more = match e.how.len() {
            1 => String::new(),
            n => format!(" +{}", n - 1),
        };
        let _ = write!(
            label,
            "<text class=\"edge-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" font-size=\"10\" \
             fill=\"{stroke}\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">{}{more}</text>",
            esc(&cut_label(first, 18))
        );
    }
    (line, label)
}

/// How many columns an edge crosses (negative spans, from a cycle, count as one).
fn span(nodes: &[GNode], e: &Edge) -> usize {
    nodes[e.to].col.saturating_sub(nodes[e.from].col).max(1)
}

/// `s` in at most `max` characters: the start and the end kept (a path's last component
/// says the most), an ellipsis between.
fn cut_label(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head = max / 3;
    let tail = max - head - 1;
    let mut t: String = s.chars().take(head).collect();
    t.push('…');
    t.extend(s.chars().skip(n - tail));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_leaves_gaps_and_never_draws_a_missing_zero() {
        let pts = vec![
            ("2026-01-01".to_string(), Some(2.0)),
            ("2026-01-02".to_string(), Some(4.0)),
            ("2026-01-03".to_string(), None),
            ("2026-01-04".to_string(), Some(3.0)),
            ("2026-01-05".to_string(), Some(1.0)),
        ];
        let s = trend("k", "MTTR <P1>", "days", &pts);
        assert_eq!(s.matches("<polyline").count(), 2, "{s}");
        assert_eq!(s.matches("<circle").count(), 4);
        assert!(s.contains("MTTR &lt;P1&gt;"));
        assert!(!s.contains("2026-01-03: "), "no point for the missing day");
        assert_eq!(
            cut_label("./configuration/log4j-core/2.13.2", 12),
            "./co…/2.13.2"
        );
        assert_eq!(cut_label("short", 12), "short");
        let empty = trend("e", "none", "", &[("d".into(), None)]);
        assert!(empty.contains("no value in any snapshot"));
        assert!(!empty.contains("<polyline"));
    }
}
