//! `ctem paths` and `ctem chokepoints`: attack paths to the crown jewels and the fixes that
//! cut them (crates/ctem-paths; rules in docs/paths.md).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Result, bail};
use ctem_paths::PathsConfig;
use ctem_paths::query::{self, AttackPath, Chokepoints};
use ctem_store::Store;

use ctem_core::Settings;

use crate::output::{Table, cut};

/// The environment and attack graph of a store (shared with the server).
pub use ctem_core::validate::Model;

/// Arguments of `ctem paths`.
pub struct PathsArgs {
    pub to: Option<String>,
    pub from: Option<String>,
    pub top: usize,
    pub json: bool,
}

pub fn paths(settings: &Settings, a: PathsArgs) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let m = Model::load(store.as_ref(), &settings.paths)?;
    if let Some(from) = &a.from {
        let i = m.env.find_asset(from)?;
        let reached = query::blast_radius(&m.graph, &m.env, i);
        if a.json {
            outln!(
                "{}",
                serde_json::json!({"from": m.env.assets[i].name, "reached": reached})
            );
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "blast radius of {} (admin): {} assets reachable, {} crown jewels",
            m.env.assets[i].name,
            reached.len(),
            reached.iter().filter(|r| r.crown_jewel).count()
        );
        let mut t = Table::new(&["ASSET", "LIKELIHOOD", "ADMIN", "CROWN JEWEL"]);
        for r in reached.iter().take(50) {
            t.row(vec![
                r.asset.clone(),
                format!("{:.3}", r.likelihood),
                r.admin_likelihood
                    .map(|a| format!("{a:.3}"))
                    .unwrap_or("-".into()),
                if r.crown_jewel { "yes" } else { "" }.into(),
            ]);
        }
        out!("{}", t.render());
        return Ok(ExitCode::SUCCESS);
    }
    if m.graph.goals.is_empty() {
        bail!(
            "no crown jewels: give assets criticality 5 or a tag of [paths] crown_jewel_tags \
             (inventory import or [[paths.assets]] in ctem.toml)"
        );
    }
    let only = a.to.as_deref().map(|t| m.env.find_asset(t)).transpose()?;
    if let Some(o) = only
        && !m.graph.goals.iter().any(|(g, _)| *g == o)
    {
        bail!("{} is not a crown jewel", m.env.assets[o].name);
    }
    let paths = query::top_paths(&m.graph, &m.env, a.top.max(1), only);
    if a.json {
        outln!("{}", serde_json::to_string(&paths)?);
    } else {
        out!("{}", render_paths(&m, &paths));
    }
    Ok(ExitCode::SUCCESS)
}

/// Human text of paths, grouped by crown jewel.
pub fn render_paths(m: &Model, paths: &[AttackPath]) -> String {
    let mut out = String::new();
    for &(asset, _) in &m.graph.goals {
        let name = &m.env.assets[asset].name;
        let mine: Vec<&AttackPath> = paths.iter().filter(|p| &p.target == name).collect();
        if mine.is_empty() {
            let _ = writeln!(out, "{name}: no attack path");
            continue;
        }
        let _ = writeln!(out, "{name}:");
        for (i, p) in mine.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. likelihood {:.3}: {}",
                i + 1,
                p.likelihood,
                line(p)
            );
        }
    }
    out
}

/// One path on one line: entry -> step -> step.
pub fn line(p: &AttackPath) -> String {
    let mut s = p.entry.clone();
    for st in &p.steps {
        let how = match (&st.cve, st.exposure) {
            (Some(c), _) => format!(" [{c}]"),
            (None, Some(x)) => format!(" [exposure {x}]"),
            _ => String::new(),
        };
        let _ = write!(s, " -> {}{how}", st.to);
    }
    s
}

pub fn chokepoints(settings: &Settings, top: usize, k: usize, json: bool) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let m = Model::load(store.as_ref(), &settings.paths)?;
    if m.graph.goals.is_empty() {
        bail!(
            "no crown jewels: give assets criticality 5 or a crown-jewel tag (see docs/paths.md)"
        );
    }
    let c = query::chokepoints(&m.graph, &m.env, k.max(1), top);
    if json {
        outln!("{}", serde_json::to_string(&c)?);
    } else {
        out!("{}", render_chokepoints(&c));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn render_chokepoints(c: &Chokepoints) -> String {
    let mut out = String::new();
    match &c.min_cut {
        Some(ids) if ids.is_empty() => {
            let _ = writeln!(out, "no path reaches a crown jewel");
        }
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            let _ = writeln!(
                out,
                "minimum cut: fixing {} exposure(s) cuts every path to every crown jewel: {}",
                ids.len(),
                list.join(", ")
            );
        }
        None => {
            let _ = writeln!(
                out,
                "no cut of exposures: {} of the {} most likely paths use no exposure (phishing, \
                 credential reuse); fix those with the controls, not patches",
                c.uncuttable, c.paths
            );
        }
    }
    let _ = writeln!(out, "fixes ranked over the {} most likely paths:", c.paths);
    let mut t = Table::new(&[
        "#",
        "EXPOSURE",
        "ASSET",
        "CVE / TITLE",
        "PATHS CUT",
        "RISK REMOVED",
    ]);
    for (i, f) in c.ranking.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            f.exposure.to_string(),
            f.asset.clone(),
            cut(f.cve.as_deref().unwrap_or(&f.title), 50),
            f.paths_cut.to_string(),
            format!("{:.3}", f.risk_removed),
        ]);
    }
    out.push_str(&t.render());
    out
}

/// The demo's settings (zones, reach, crown jewels); `ctem demo` writes them beside its store.
pub const DEMO_CONFIG: &str = include_str!("../../../../examples/demo/ctem.toml");

/// `ctem demo`'s validation step: the top attack path and the best choke-point fix.
pub fn demo(store: &dyn Store, dir: &std::path::Path) -> Result<()> {
    let path = dir.join("ctem.toml");
    std::fs::write(&path, DEMO_CONFIG)
        .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    let settings = Settings::from_toml(DEMO_CONFIG, Some(&path))?;
    let m = Model::load(store, &settings.paths)?;
    outln!(
        "\n8. validate: attack paths ({} zones, {} crown jewel(s), settings in {})",
        m.env.zones().len(),
        m.graph.goals.len(),
        path.display()
    );
    let paths = query::top_paths(&m.graph, &m.env, 1, None);
    for p in &paths {
        outln!(
            "   top path to {} (likelihood {:.3}):",
            p.target,
            p.likelihood
        );
        outln!("   {}", line(p));
    }
    let c = query::chokepoints(&m.graph, &m.env, 10, 1);
    if let Some(f) = c.ranking.first() {
        outln!(
            "   best fix: exposure #{} {} on {}: cuts {} of the {} most likely paths (risk {:.3})",
            f.exposure,
            f.cve.as_deref().unwrap_or(&f.title),
            f.asset,
            f.paths_cut,
            c.paths,
            f.risk_removed
        );
    }
    if let Some(cut) = &c.min_cut {
        let ids: Vec<String> = cut.iter().map(|i| format!("#{i}")).collect();
        outln!(
            "   minimum cut: fixing {} cuts every path ({})",
            ids.join(" "),
            ids.len()
        );
    }
    Ok(())
}

/// "On a path to a crown jewel" for `ctem explain`: the likelihood of the most likely attack
/// path through exposure `id` (`null` when there is none or no crown jewel is named), and a
/// line of text.
pub fn explain_factor(
    store: &dyn Store,
    config: &PathsConfig,
    id: i64,
) -> Result<(serde_json::Value, String)> {
    let m = Model::load(store, config)?;
    if m.graph.goals.is_empty() {
        return Ok((
            serde_json::Value::Null,
            "   attack paths: no crown jewels named (criticality 5 or [paths] crown_jewel_tags)\n"
                .into(),
        ));
    }
    let f = query::path_factors(&m.graph, &m.env);
    Ok(match f.get(&id) {
        Some(p) => (
            serde_json::json!({"on_path_to_crown_jewel": true, "likelihood": p}),
            format!(
                "   attack paths: on a path to a crown jewel (most likely path through it {p:.3}; \
                 see ctem paths)\n"
            ),
        ),
        None => (
            serde_json::json!({"on_path_to_crown_jewel": false}),
            "   attack paths: on no path to a crown jewel\n".into(),
        ),
    })
}
