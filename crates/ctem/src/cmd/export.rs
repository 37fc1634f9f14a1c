//! Exposures in exchange formats: CSV, SARIF 2.1.0 and a CycloneDX VEX of triage decisions.
//!
//! - **CSV**: a header and one row per exposure, RFC 4180 quoting (the `csv` crate). A cell
//!   that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` so a
//!   spreadsheet shows it instead of running it as a formula (OWASP "CSV injection"): titles
//!   and evidence come from scanned systems and are not trusted.
//! - **SARIF 2.1.0** as GitHub code scanning reads it: one rule per finding id
//!   (`tool.driver.rules[]` with `id`, descriptions, `help`, and `security-severity`), results
//!   with `ruleId`, `ruleIndex`, `level`, `message.text`, a `physicalLocation` for findings in
//!   a file (the location path, else the package's lockfile path) and, for findings on a host
//!   or an image, a `logicalLocation` naming the asset plus a `physicalLocation` whose artifact
//!   is the asset (GitHub displays only results with a physical location), and
//!   `partialFingerprints` (`ctem/v1`: the asset and the exposure's dedup fingerprint) so an
//!   upload does not duplicate alerts of the previous one.
//! - **CycloneDX VEX** (spec 1.6): one `vulnerabilities[]` entry per package vulnerability,
//!   `affects[].ref` the package's purl (also listed in `components[]` with that `bom-ref`),
//!   and `analysis` from the exposure's status and the reason given when it was set:
//!   fixed is `resolved`; false positive is `false_positive`; accepted is `exploitable` with
//!   the response `will_not_fix` (accepting a risk says the package is affected); either
//!   becomes `not_affected` with that justification when the reason names a CycloneDX
//!   justification (`code_not_reachable: ...`); open and reopened are `in_triage`, or
//!   `exploitable` when the CVE is in CISA KEV.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use anyhow::Result;
use ctem_model::{Exposure, ExposureStatus, Package, Severity};
use ctem_store::Store;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The columns of the CSV export.
pub const CSV_HEADER: [&str; 16] = [
    "id",
    "asset_id",
    "asset",
    "kind",
    "severity",
    "status",
    "ids",
    "rule_id",
    "title",
    "package",
    "version",
    "fixed_version",
    "location",
    "port",
    "first_seen",
    "last_seen",
];

/// A cell a spreadsheet would evaluate gets a leading `'`.
pub fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn location(e: &Exposure) -> Option<(String, Option<u32>)> {
    e.location
        .as_ref()
        .and_then(|l| l.path.clone().map(|p| (p, l.line)))
        .or_else(|| {
            e.package
                .as_ref()
                .and_then(|p| p.path.clone())
                .map(|p| (p, None))
        })
}

pub fn csv(w: &mut dyn Write, rows: &[Exposure], names: &HashMap<i64, String>) -> Result<()> {
    let mut out = ::csv::Writer::from_writer(w);
    out.write_record(CSV_HEADER)?;
    for e in rows {
        let ids = [e.cves.clone(), e.advisories.clone()].concat().join(" ");
        let pkg = e.package.as_ref();
        let loc = location(e).map(|(p, l)| match l {
            Some(l) => format!("{p}:{l}"),
            None => p,
        });
        let opt = |o: Option<String>| o.unwrap_or_default();
        let cells = [
            opt(e.id.map(|i| i.to_string())),
            opt(e.asset_id.map(|i| i.to_string())),
            opt(e.asset_id.and_then(|a| names.get(&a).cloned())),
            e.kind.as_str().to_string(),
            e.severity.as_str().to_string(),
            e.status.as_str().to_string(),
            ids,
            opt(e.rule_id.clone()),
            e.title.clone(),
            opt(pkg.map(|p| p.name.clone())),
            opt(pkg.and_then(|p| p.version.clone())),
            opt(pkg.and_then(|p| p.fixed_version.clone())),
            opt(loc),
            opt(e.port.map(|p| p.to_string())),
            opt(e.first_seen.map(|t| t.to_rfc3339())),
            opt(e.last_seen.map(|t| t.to_rfc3339())),
        ];
        out.write_record(cells.iter().map(|c| defuse(c)))?;
    }
    out.flush()?;
    Ok(())
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

/// GitHub's `security-severity`: the highest CVSS score, else the middle of the band.
fn security_severity(e: &Exposure) -> String {
    let best = e
        .cvss
        .iter()
        .filter_map(|c| c.score)
        .fold(None, |a: Option<f64>, s| Some(a.map_or(s, |a| a.max(s))));
    let score = best.unwrap_or(match e.severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        _ => 0.0,
    });
    format!("{score:.1}")
}

fn rule_id(e: &Exposure) -> String {
    e.primary_id()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/{}", e.kind.as_str(), slug(&e.title)))
}

fn slug(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-")
}

fn fingerprint(e: &Exposure, asset: &str) -> String {
    let mut h = Sha256::new();
    h.update(asset.as_bytes());
    h.update([0x1f]);
    h.update(e.fingerprint("").to_hex().as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn sarif_rule(e: &Exposure, id: &str) -> Value {
    let mut help = e.solution.clone().unwrap_or_default();
    if let Some(p) = &e.package
        && help.is_empty()
    {
        help = match &p.fixed_version {
            Some(f) => format!("Upgrade {} to {f}.", p.name),
            None => format!("No fixed version of {} is known yet.", p.name),
        };
    }
    if help.is_empty() {
        help = e.title.clone();
    }
    let mut tags = vec!["security".to_string(), e.kind.as_str().to_string()];
    tags.extend(e.cwes.iter().cloned());
    let mut rule = json!({
        "id": id,
        "name": slug(id).replace('-', "_"),
        "shortDescription": {"text": crate::output::cut(&e.title, 200)},
        "fullDescription": {"text": e.description.clone().unwrap_or_else(|| e.title.clone())},
        "help": {"text": help},
        "defaultConfiguration": {"level": level(e.severity)},
        "properties": {"tags": tags, "security-severity": security_severity(e)},
    });
    if let Some(u) = e.references.first().filter(|u| u.starts_with("http")) {
        rule["helpUri"] = json!(u);
    }
    rule
}

fn sarif_result(e: &Exposure, id: &str, index: usize, asset: &str) -> Value {
    let mut text = e.title.clone();
    if let Some(p) = &e.package {
        text.push_str(&format!(
            " ({} {}{})",
            p.name,
            p.version.as_deref().unwrap_or("?"),
            p.fixed_version
                .as_deref()
                .map(|f| format!(", fixed in {f}"))
                .unwrap_or_default()
        ));
    }
    if !asset.is_empty() {
        text.push_str(&format!(" on {asset}"));
    }
    let logical = json!([{
        "name": if asset.is_empty() { "unknown asset" } else { asset },
        "fullyQualifiedName": match e.port {
            Some(p) => format!("{asset}:{p}"),
            None => asset.to_string(),
        },
        "kind": "resource",
    }]);
    // GitHub shows a result only with a physical location: a finding on a host or an image
    // points at the asset as its artifact (as Trivy does for images) and names it as a
    // logical location too
    let location = match location(e) {
        Some((path, line)) => {
            let mut phys = json!({"artifactLocation": {"uri": uri(&path)}});
            if let Some(l) = line.filter(|l| *l > 0) {
                phys["region"] = json!({"startLine": l});
            }
            json!({"physicalLocation": phys})
        }
        None => json!({
            "physicalLocation": {
                "artifactLocation": {"uri": uri(if asset.is_empty() { "unknown-asset" } else { asset })},
                "region": {"startLine": 1},
            },
            "logicalLocations": logical,
        }),
    };
    json!({
        "ruleId": id,
        "ruleIndex": index,
        "level": level(e.severity),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"ctem/v1": fingerprint(e, asset)},
        "properties": {
            "ctem_id": e.id,
            "status": e.status.as_str(),
            "severity": e.severity.as_str(),
        },
    })
}

/// A path or name as a relative URI reference: no leading slash, and every byte outside
/// the unreserved and path characters percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn sarif(w: &mut dyn Write, rows: &[Exposure], names: &HashMap<i64, String>) -> Result<()> {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut results = Vec::with_capacity(rows.len());
    for e in rows {
        let id = rule_id(e);
        let i = *index.entry(id.clone()).or_insert_with(|| {
            rules.push(sarif_rule(e, &id));
            rules.len() - 1
        });
        let asset = e
            .asset_id
            .and_then(|a| names.get(&a))
            .map_or("", String::as_str);
        results.push(sarif_result(e, &id, i, asset));
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ctem",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/ctem",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// The exposures again, each with its status history (the listing leaves it out).
pub fn with_history(store: &dyn Store, rows: Vec<Exposure>) -> Result<Vec<Exposure>> {
    rows.into_iter()
        .map(|e| match e.id {
            Some(id) => Ok(store.exposure(id)?.unwrap_or(e)),
            None => Ok(e),
        })
        .collect()
}

/// A purl for a stored package: `pkg:TYPE/NAMESPACE/NAME@VERSION` (Maven's `group:name`
/// becomes `group/name`; `@` of an npm scope is `%40`).
pub fn purl(p: &Package) -> String {
    let ty = p
        .ecosystem
        .as_deref()
        .unwrap_or("generic")
        .to_ascii_lowercase();
    let name = match ty.as_str() {
        "maven" => p.name.replacen(':', "/", 1),
        _ => p.name.clone(),
    }
    .replace('@', "%40");
    match &p.version {
        Some(v) => format!("pkg:{ty}/{name}@{}", v.replace('@', "%40")),
        None => format!("pkg:{ty}/{name}"),
    }
}

/// The CycloneDX justifications, in the words a triage reason may use.
const JUSTIFICATIONS: [&str; 9] = [
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];

/// The reason the current status was set with (the latest history entry into it).
fn reason(e: &Exposure) -> Option<&str> {
    e.history
        .iter()
        .rev()
        .find(|h| h.to == e.status)
        .map(|h| h.reason.as_str())
        .filter(|r| !r.trim().is_empty())
}

fn justification(reason: &str) -> Option<&'static str> {
    let r = reason.to_ascii_lowercase().replace([' ', '-'], "_");
    JUSTIFICATIONS.iter().copied().find(|j| r.contains(j))
}

/// The `analysis` object of one exposure.
pub fn analysis(e: &Exposure) -> Value {
    let why = reason(e);
    let kev = e.intel.as_ref().is_some_and(|i| i.kev);
    let (state, just, response): (&str, Option<&str>, Option<&str>) = match e.status {
        ExposureStatus::Fixed => ("resolved", None, Some("update")),
        ExposureStatus::FalsePositive | ExposureStatus::Accepted => {
            match why.and_then(justification) {
                Some(j) => ("not_affected", Some(j), None),
                None if e.status == ExposureStatus::Accepted => {
                    ("exploitable", None, Some("will_not_fix"))
                }
                None => ("false_positive", None, None),
            }
        }
        ExposureStatus::Open | ExposureStatus::Reopened if kev => ("exploitable", None, None),
        ExposureStatus::Open | ExposureStatus::Reopened => ("in_triage", None, None),
    };
    let mut a = json!({"state": state});
    if let Some(j) = just {
        a["justification"] = json!(j);
    }
    if let Some(r) = response {
        a["response"] = json!([r]);
    }
    let detail = match (why, e.status) {
        (Some(w), _) => Some(w.to_string()),
        (None, ExposureStatus::Fixed) => Some("no longer reported by its scanners".into()),
        _ => None,
    };
    if let Some(d) = detail {
        a["detail"] = json!(d);
    }
    if let Some(at) = e.history.last().map(|h| h.at).or(e.first_seen) {
        a["lastUpdated"] = json!(at.to_rfc3339());
    }
    a
}

fn rating(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
        Severity::Unknown => "unknown",
    }
}

/// A CycloneDX 1.6 VEX of the package vulnerabilities among `rows`.
pub fn vex(w: &mut dyn Write, rows: &[Exposure], names: &HashMap<i64, String>) -> Result<()> {
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    let mut vulns = Vec::new();
    let mut assets: Vec<&str> = Vec::new();
    for e in rows {
        let (Some(p), Some(id)) = (&e.package, e.primary_id()) else {
            continue;
        };
        let r = purl(p);
        components.entry(r.clone()).or_insert_with(|| {
            let mut c = json!({"type": "library", "bom-ref": r, "name": p.name, "purl": r});
            if let Some(v) = &p.version {
                c["version"] = json!(v);
            }
            c
        });
        if let Some(a) = e.asset_id.and_then(|a| names.get(&a))
            && !assets.contains(&a.as_str())
        {
            assets.push(a);
        }
        let source = if id.starts_with("CVE-") {
            json!({"name": "NVD", "url": format!("https://nvd.nist.gov/vuln/detail/{id}")})
        } else if id.starts_with("GHSA-") {
            json!({"name": "GitHub", "url": format!("https://github.com/advisories/{id}")})
        } else {
            json!({"name": "ctem"})
        };
        let mut v = json!({
            "bom-ref": format!("ctem-exposure-{}", e.id.unwrap_or_default()),
            "id": id,
            "source": source,
            "ratings": [{"severity": rating(e.severity)}],
            "analysis": analysis(e),
            "affects": [{"ref": r}],
        });
        if let Some(d) = &e.description {
            v["description"] = json!(d);
        }
        vulns.push(v);
    }
    let subject = match assets.as_slice() {
        [one] => json!({"type": "application", "name": one, "bom-ref": "subject"}),
        _ => json!({"type": "application", "name": "ctem triage decisions", "bom-ref": "subject"}),
    };
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_v4_like(rows)),
        "version": 1,
        "metadata": {
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "tools": {"components": [{"type": "application", "name": "ctem", "version": env!("CARGO_PKG_VERSION")}]},
            "component": subject,
        },
        "components": components.into_values().collect::<Vec<_>>(),
        "vulnerabilities": vulns,
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// A serial number derived from the content (a hash shaped as a version-4-style UUID: the
/// spec asks for an RFC 4122 UUID, and a repeated export of the same decisions gets the
/// same one).
fn uuid_v4_like(rows: &[Exposure]) -> String {
    let mut h = Sha256::new();
    for e in rows {
        h.update(e.id.unwrap_or_default().to_le_bytes());
        h.update(e.status.as_str().as_bytes());
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        for c in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(c), format!("'{c}"));
        }
        assert_eq!(defuse("CVE-2021-44228"), "CVE-2021-44228");
        assert_eq!(defuse(""), "");
    }

    #[test]
    fn artifact_uris_are_relative_and_encoded() {
        assert_eq!(uri("/src/app/main.go"), "src/app/main.go");
        assert_eq!(uri("C:\\dir\\a b.txt"), "C:%5Cdir%5Ca%20b.txt");
        assert_eq!(uri("alpine:3.10"), "alpine:3.10");
        assert_eq!(uri("é"), "%C3%A9");
    }

    #[test]
    fn purls() {
        let p = |name: &str, eco: Option<&str>, v: Option<&str>| Package {
            name: name.into(),
            version: v.map(str::to_string),
            fixed_version: None,
            ecosystem: eco.map(str::to_string),
            path: None,
        };
        assert_eq!(
            purl(&p("lodash", Some("npm"), Some("4.17.20"))),
            "pkg:npm/lodash@4.17.20"
        );
        assert_eq!(
            purl(&p(
                "org.apache.logging.log4j:log4j-core",
                Some("maven"),
                Some("2.14.1")
            )),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        assert_eq!(
            purl(&p("@babel/core", Some("npm"), None)),
            "pkg:npm/%40babel/core"
        );
        assert_eq!(
            purl(&p("openssl", None, Some("3.0.1"))),
            "pkg:generic/openssl@3.0.1"
        );
    }

    #[test]
    fn triage_decisions_map_to_cyclonedx_analysis() {
        let mut e = Exposure::new(ctem_model::ExposureKind::Vulnerability, "x", Severity::High);
        let set = |e: &mut Exposure, s: ExposureStatus, why: &str| {
            e.status = s;
            e.history.push(ctem_model::exposure::StatusChange {
                at: chrono::Utc::now(),
                from: None,
                to: s,
                scan_id: None,
                reason: why.into(),
            });
        };
        assert_eq!(analysis(&e)["state"], "in_triage");
        set(
            &mut e,
            ExposureStatus::Accepted,
            "code not reachable: template() unused",
        );
        let a = analysis(&e);
        assert_eq!(a["state"], "not_affected");
        assert_eq!(a["justification"], "code_not_reachable");
        assert_eq!(a["detail"], "code not reachable: template() unused");
        set(
            &mut e,
            ExposureStatus::Accepted,
            "compensating WAF rule until Q3",
        );
        let a = analysis(&e);
        assert_eq!(a["state"], "exploitable");
        assert_eq!(a["response"][0], "will_not_fix");
        set(
            &mut e,
            ExposureStatus::FalsePositive,
            "scanner misread the version",
        );
        assert_eq!(analysis(&e)["state"], "false_positive");
        set(&mut e, ExposureStatus::Fixed, "");
        assert_eq!(analysis(&e)["state"], "resolved");
    }
}
