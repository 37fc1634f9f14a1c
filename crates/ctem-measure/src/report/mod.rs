//! Reports as data ([`assess::Assessment`], [`review::Review`]) turned into a [`Doc`] of
//! sections, then rendered to Markdown or self-contained HTML. One document model for both
//! formats keeps them saying the same thing.

pub mod assess;
pub mod logsources;
pub mod response;
pub mod review;

use std::fmt::Write;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

/// A rendered-agnostic report: a title and sections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
}

/// One section: paragraphs, an optional bar chart and an optional table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    pub title: String,
    pub paragraphs: Vec<String>,
    /// Bars (label, value); drawn as SVG in HTML, as a table of values in Markdown.
    pub chart: Vec<(String, f64)>,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Doc {
    pub fn render(&self, f: Format) -> String {
        match f {
            Format::Markdown => self.markdown(),
            Format::Html => self.html(),
        }
    }

    fn markdown(&self) -> String {
        let mut s = format!("# {}\n\n_{}_\n", self.title, self.subtitle);
        for sec in &self.sections {
            let _ = write!(s, "\n## {}\n\n", sec.title);
            for p in &sec.paragraphs {
                let _ = writeln!(s, "{p}\n");
            }
            if !sec.chart.is_empty() && sec.head.is_empty() {
                s.push_str("| | |\n|---|---:|\n");
                for (l, v) in &sec.chart {
                    let _ = writeln!(s, "| {} | {} |", md_cell(l), num(*v));
                }
                s.push('\n');
            }
            if !sec.head.is_empty() {
                let _ = writeln!(
                    s,
                    "| {} |",
                    sec.head
                        .iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(s, "|{}", "---|".repeat(sec.head.len()));
                for r in &sec.rows {
                    let _ = writeln!(
                        s,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                s.push('\n');
            }
        }
        s
    }

    fn html(&self) -> String {
        let mut s =
            String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(s, "<title>{}</title>", esc(&self.title));
        s.push_str(CSS);
        let _ = write!(
            s,
            "</head>\n<body>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
            esc(&self.title),
            esc(&self.subtitle)
        );
        for sec in &self.sections {
            let _ = writeln!(s, "<section>\n<h2>{}</h2>", esc(&sec.title));
            for p in &sec.paragraphs {
                let _ = writeln!(s, "<p>{}</p>", esc(p));
            }
            if !sec.chart.is_empty() {
                s.push_str(&svg_bars(&sec.chart));
            }
            if !sec.head.is_empty() {
                s.push_str("<table>\n<tr>");
                for h in &sec.head {
                    let _ = write!(s, "<th>{}</th>", esc(h));
                }
                s.push_str("</tr>\n");
                for r in &sec.rows {
                    s.push_str("<tr>");
                    for c in r {
                        let class = match c.as_str() {
                            "met" | "flowing" | "fresh" => " class=\"ok\"",
                            "at_risk" | "silent" | "stale" | "on_track" => " class=\"warn\"",
                            "missed" | "never seen" | "unknown" => " class=\"bad\"",
                            _ => "",
                        };
                        let _ = write!(s, "<td{class}>{}</td>", esc(c));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</table>\n");
            }
            s.push_str("</section>\n");
        }
        s.push_str("</body>\n</html>\n");
        s
    }
}

const CSS: &str = "<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1c2330}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
.sub{color:#57606a;margin-top:0}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.ok{background:#dafbe1}td.warn{background:#fff8c5}td.bad{background:#ffebe9}svg{display:block;margin:.5rem 0}
@media print{body{margin:0}section{break-inside:avoid}}
</style>
";

/// A horizontal bar chart as inline SVG.
pub fn svg_bars(bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9);
    let h = 22 * bars.len() + 4;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{h}\" role=\"img\">\n"
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 22 * i + 2;
        let w = ((v / max) * 360.0)
            .round()
            .max(if *v > 0.0 { 1.0 } else { 0.0 });
        let _ = writeln!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{w}\" height=\"16\" fill=\"#0969da\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 13,
            esc(label),
            205.0 + w,
            y + 13,
            num(*v)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A number as reports print it: integers bare, others with up to 3 decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A KPI value or why there is none.
pub fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), num)
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// HTML escaping of text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_needs_nothing_outside() {
        let d = Doc {
            title: "<x>".into(),
            subtitle: "a & b".into(),
            sections: vec![Section {
                title: "s".into(),
                chart: vec![("a\"".into(), 2.0)],
                ..Default::default()
            }],
        };
        let h = d.render(Format::Html);
        assert!(h.contains("&lt;x&gt;") && h.contains("a &amp; b") && h.contains("a&quot;"));
        assert!(
            !h.contains("http://") || h.matches("http://").count() == 1,
            "only the SVG namespace"
        );
        assert!(!h.contains("<script") && !h.contains("<link"));
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(1.0 / 3.0), "0.333");
    }
}
