//! `ctem attack techniques` and `ctem attack show`: the ATT&CK techniques of the intel store
//! with the rules tagged with them and what makes them possible in this environment.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ctem_detect::RuleSet;
use ctem_model::intel::Technique;
use ctem_paths::technique::{self, RuleRef};
use ctem_store::Store;
use serde::Serialize;

use crate::output::{Table, cut};
use ctem_core::Settings;

/// The techniques of the store (not revoked or deprecated), by id.
pub fn techniques(store: &dyn Store) -> Result<Vec<Technique>> {
    let mut out = Vec::new();
    for o in store.attack_objects(Some("technique"))? {
        let t: Technique =
            serde_json::from_str(&o.data).with_context(|| format!("stored technique {}", o.id))?;
        if !t.revoked && !t.deprecated {
            out.push(t);
        }
    }
    Ok(out)
}

/// Tactic shortname -> display name.
fn tactic_names(store: &dyn Store) -> Result<HashMap<String, String>> {
    let mut m = HashMap::new();
    for o in store.attack_objects(Some("tactic"))? {
        let v: serde_json::Value = serde_json::from_str(&o.data)?;
        if let Some(s) = v.get("shortname").and_then(|s| s.as_str()) {
            m.insert(s.to_string(), o.name.clone());
        }
    }
    Ok(m)
}

pub fn load_rules(dirs: &[PathBuf]) -> Result<Option<RuleSet>> {
    if dirs.is_empty() {
        return Ok(None);
    }
    for d in dirs {
        if !d.exists() {
            bail!("{}: no such rules folder", d.display());
        }
    }
    Ok(Some(RuleSet::load_dirs(dirs)?))
}

fn no_attack() -> anyhow::Error {
    anyhow::anyhow!(
        "no ATT&CK techniques in the store: import them first \
         (`ctem intel import enterprise-attack.json`)"
    )
}

pub fn list(
    settings: &Settings,
    tactic: Option<String>,
    rules: &[PathBuf],
    json: bool,
) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let all = techniques(store.as_ref())?;
    if all.is_empty() {
        return Err(no_attack());
    }
    let names = tactic_names(store.as_ref())?;
    let tactic = tactic.map(|t| t.to_ascii_lowercase().replace(' ', "-"));
    if let Some(t) = &tactic
        && !names.contains_key(t)
    {
        let mut known: Vec<&String> = names.keys().collect();
        known.sort();
        bail!("unknown tactic {t:?}: one of {known:?}");
    }
    let rs = load_rules(rules)?;
    #[derive(Serialize)]
    struct Row<'a> {
        id: &'a str,
        name: &'a str,
        tactics: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        rules: Option<usize>,
    }
    let rows: Vec<Row> = all
        .iter()
        .filter(|t| tactic.as_ref().is_none_or(|x| t.tactics.contains(x)))
        .map(|t| Row {
            id: &t.id,
            name: &t.name,
            tactics: &t.tactics,
            rules: rs.as_ref().map(|rs| {
                rs.rules
                    .iter()
                    .filter(|r| technique::tagged_with(&r.meta.tags, &t.id))
                    .count()
            }),
        })
        .collect();
    if json {
        outln!("{}", serde_json::to_string(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "NAME", "TACTICS", "RULES"]);
    for r in &rows {
        table.row(vec![
            r.id.to_string(),
            cut(r.name, 50),
            r.tactics.join(","),
            r.rules.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
        ]);
    }
    out!("{}", table.render());
    eprintln!("{} techniques", rows.len());
    Ok(ExitCode::SUCCESS)
}

/// The mitigations ATT&CK links to technique `id` (`mitigates` relationships).
fn mitigations_of(store: &dyn Store, id: &str) -> Result<Vec<Mitigation>> {
    let names: HashMap<String, String> = store
        .attack_objects(Some("mitigation"))?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut out: Vec<Mitigation> = store
        .attack_relationships(id)?
        .into_iter()
        .filter(|r| r.relationship_type == "mitigates" && !r.revoked)
        .filter(|r| r.target_id.as_deref() == Some(id))
        .filter_map(|r| r.source_id)
        .map(|m| Mitigation {
            name: names.get(&m).cloned().unwrap_or_default(),
            id: m,
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

#[derive(Serialize)]
struct Mitigation {
    id: String,
    name: String,
}

pub fn show(settings: &Settings, id: &str, rules: &[PathBuf], json: bool) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let all = techniques(store.as_ref())?;
    if all.is_empty() {
        return Err(no_attack());
    }
    let Some(t) = all.iter().find(|t| t.id.eq_ignore_ascii_case(id)) else {
        bail!("no technique {id} in the store (ids look like T1059 or T1059.001)");
    };
    let names = tactic_names(store.as_ref())?;
    let mitigations = mitigations_of(store.as_ref(), &t.id)?;
    let rs = load_rules(rules)?;
    let tagged: Option<Vec<RuleRef>> = rs.as_ref().map(|rs| {
        rs.rules
            .iter()
            .filter(|r| technique::tagged_with(&r.meta.tags, &t.id))
            .map(RuleRef::of)
            .collect()
    });
    let model = super::paths::Model::load(store.as_ref(), &settings.paths)?;
    let ev = technique::evidence(&model.graph, &model.env, &t.id, &t.tactics);
    let intel_links = "none: ATT&CK and the stored CVE records do not link CVEs or CWEs to \
                       techniques; exposures below come from ctem's attack-graph rules";
    if json {
        let v = serde_json::json!({
            "id": t.id, "name": t.name,
            "tactics": t.tactics.iter().map(|s| names.get(s).cloned().unwrap_or(s.clone())).collect::<Vec<_>>(),
            "platforms": t.platforms, "data_sources": t.data_sources,
            "detection": t.detection, "mitigations": mitigations,
            "rules": tagged, "intel_links": intel_links, "environment": ev,
        });
        outln!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{}",
        render_show(t, &names, &mitigations, tagged.as_deref(), intel_links, &ev)
    );
    Ok(ExitCode::SUCCESS)
}

fn render_show(
    t: &Technique,
    names: &HashMap<String, String>,
    mitigations: &[Mitigation],
    tagged: Option<&[RuleRef]>,
    intel_links: &str,
    ev: &technique::Evidence,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", t.id, t.name);
    let tactics: Vec<String> = t
        .tactics
        .iter()
        .map(|s| names.get(s).cloned().unwrap_or(s.clone()))
        .collect();
    let _ = writeln!(out, "tactics: {}", tactics.join(", "));
    let _ = writeln!(out, "platforms: {}", t.platforms.join(", "));
    let _ = writeln!(out, "data sources: {}", list_or_none(&t.data_sources));
    let _ = writeln!(out, "mitigations:");
    for m in mitigations {
        let _ = writeln!(out, "  {} {}", m.id, m.name);
    }
    if mitigations.is_empty() {
        let _ = writeln!(out, "  (none in the store)");
    }
    let _ = writeln!(
        out,
        "detection notes: {}",
        t.detection
            .as_deref()
            .map(|d| cut(d, 400))
            .unwrap_or("(none in the bundle)".into())
    );
    match tagged {
        None => {
            let _ = writeln!(
                out,
                "rules: pass --rules DIR to list the rules tagged with it"
            );
        }
        Some(rs) => {
            let _ = writeln!(out, "rules tagged with it: {}", rs.len());
            for r in rs.iter().take(30) {
                let _ = writeln!(
                    out,
                    "  {} [{}] {} ({})",
                    r.id,
                    r.level,
                    cut(&r.title, 60),
                    r.logsource
                );
            }
        }
    }
    let _ = writeln!(out, "exposures linked by intel: {intel_links}");
    let feasible = match ev.feasible {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not judged",
    };
    let _ = writeln!(out, "possible here: {feasible} ({})", ev.basis);
    if !ev.exposures.is_empty() {
        let ids: Vec<String> = ev.exposures.iter().map(|i| i.to_string()).collect();
        let _ = writeln!(out, "  exposures: {}", ids.join(", "));
    }
    if !ev.assets.is_empty() {
        let _ = writeln!(out, "  assets: {}", ev.assets.join(", "));
    }
    out
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(none listed)".into()
    } else {
        v.join(", ")
    }
}
