//! CycloneDX 1.x BOMs, JSON and XML (SBOM, VEX and VDR): the BOM's subject
//! (`metadata.component`) is the asset: a container image for `type: container`, else an
//! application named by the component (or the serial number). The model has no place for a
//! package inventory: every component becomes a `Package` record of the BOM's subject, and
//! gives the package (name, version, purl type, group) of the vulnerabilities that affect it.
//!
//! Each vulnerability (top-level `vulnerabilities` of 1.4+, or the 1.0 vulnerability
//! extension nested in components, as older Grype and Dependency-Track wrote it) becomes one
//! package vulnerability per affected component. Severity: the most severe rating word, else
//! the highest score as a CVSS band. A VEX analysis is kept in the solution (`VEX analysis:
//! not_affected (code_not_reachable): ...`) and decides the exposure's status: `resolved`
//! closes it, `not_affected` and `false_positive` make it `false_positive`, `exploitable` and
//! `in_triage` leave it open. A BOM with no components whose every vulnerability carries an
//! analysis is an independent VEX document (about another BOM's components): it speaks only
//! for the pairs it states ([`ctem_model::Coverage::Statements`]); a BOM with its components
//! (SBOM, VDR, a scanner's output, a VEX embedded in the SBOM) speaks for its subject like
//! any scan.

use std::collections::HashMap;
use std::io::BufRead;

use ctem_model::{Asset, AssetKind, Cvss, Exposure, ExposureKind, Package, Severity};
use serde_json::Value;

use crate::common::{
    Out, arr, has, image_asset, is_json, named_asset, num, read_all, s, st, xml_root, xml_to_json,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "cyclonedx",
    kind: FormatKind::Inventory,
    description: "CycloneDX 1.x SBOM / VEX / VDR, JSON or XML (vulnerabilities become exposures)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "metadata": {"component": {"type": "application", "name": "app"}}, "components": [], "vulnerabilities": []}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head) && has(head, "bomFormat") && crate::common::contains(head, "CycloneDX") {
        return 96;
    }
    match xml_root(head) {
        Some(r) if r == "bom" && crate::common::contains(head, "cyclonedx.org/schema/bom") => 96,
        _ => 0,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "CycloneDX")?;
    let body = crate::trim_ascii_bom(&buf);
    let doc: Value = if body.starts_with(b"<") {
        let mut r = body;
        let root = crate::common::read_xml(&mut r)?;
        if root.name != "bom" {
            return Err(Error::Refused(format!(
                "not a CycloneDX BOM: root element is <{}>",
                root.name
            )));
        }
        xml_to_json(&root)
    } else {
        serde_json::from_slice(body).map_err(Error::json)?
    };
    if doc
        .get("bomFormat")
        .and_then(Value::as_str)
        .is_some_and(|f| f != "CycloneDX")
    {
        return Err(Error::Refused("bomFormat is not CycloneDX".into()));
    }
    if !doc.is_object() {
        return Err(Error::Refused("not a CycloneDX BOM (not an object)".into()));
    }
    let mut out = Out::new(emit);
    let tool = arr(&doc["metadata"], "tools")
        .first()
        .and_then(|t| s(t, &["name"]))
        .or(s(&doc["metadata"]["tools"], &["components", "0", "name"]));
    let stated = list(&doc["vulnerabilities"]);
    // an independent VEX: statements about another BOM's components, none of its own
    let vex = !stated.is_empty()
        && list(&doc["components"]).is_empty()
        && stated.iter().all(|v| v.get("analysis").is_some());
    out.scan_covering(
        tool,
        if vex {
            ctem_model::Coverage::Statements
        } else {
            ctem_model::Coverage::Assets
        },
    )?;
    let key = out.asset(subject(&doc))?;
    // components by bom-ref, with nested components and 1.0 extension vulnerabilities
    let mut comps: HashMap<String, Package> = HashMap::new();
    let mut nested: Vec<(Value, String)> = Vec::new();
    collect(list(&doc["components"]), &mut comps, &mut nested);
    // every component is a package of the subject's inventory (in a stable order)
    let mut inventory: Vec<&Package> = comps.values().collect();
    inventory.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    inventory.dedup_by(|a, b| a.name == b.name && a.version == b.version && a.path == b.path);
    for p in inventory {
        out.package(key, p.clone())?;
    }
    let mut vulns: Vec<(Value, Vec<String>)> = Vec::new();
    for (i, v) in list(&doc["vulnerabilities"]).iter().enumerate() {
        let refs: Vec<String> = list(&v["affects"])
            .iter()
            .filter_map(|a| st(a, &["ref"]))
            .collect();
        let _ = i;
        vulns.push(((*v).clone(), refs));
    }
    for (v, r) in nested {
        vulns.push((v, vec![r]));
    }
    for (i, (v, refs)) in vulns.iter().enumerate() {
        let place = format!("vulnerabilities[{i}]");
        let base = match vuln(v) {
            Ok(e) => e,
            Err(m) => {
                out.issue(place, m)?;
                continue;
            }
        };
        if refs.is_empty() {
            out.exposure(key, base)?;
            continue;
        }
        for r in refs {
            let mut e = base.clone();
            e.package = Some(comps.get(r).cloned().unwrap_or_else(|| from_ref(r)));
            if let Some(p) = &e.package {
                e.title = format!("{} in {}", e.primary_id().unwrap_or(&base.title), p.name);
            }
            out.exposure(key, e)?;
        }
    }
    Ok(())
}

/// A JSON array, or a single object (XML with one child), as a list.
fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => Vec::new(),
    }
}

fn subject(doc: &Value) -> Asset {
    let c = &doc["metadata"]["component"];
    let name = s(c, &["name"]);
    let mut a = match (s(c, &["type"]), name) {
        (Some("container"), Some(n)) => {
            let digest = s(c, &["version"]).filter(|v| v.starts_with("sha256:"));
            let r = match s(c, &["version"]) {
                _ if n.contains(':') || n.contains('@') => n.to_string(),
                Some(v) if !v.starts_with("sha256:") => format!("{n}:{v}"),
                _ => n.to_string(),
            };
            image_asset(Some(&r), digest)
        }
        (_, Some(n)) => named_asset(AssetKind::Application, n),
        _ => named_asset(
            AssetKind::Application,
            s(doc, &["serialNumber"]).unwrap_or("cyclonedx bom"),
        ),
    };
    if let Some(os) = list(&doc["components"])
        .iter()
        .find(|c| s(c, &["type"]) == Some("operating-system"))
    {
        a.os = Some(
            format!(
                "{} {}",
                s(os, &["name"]).unwrap_or(""),
                s(os, &["version"]).unwrap_or("")
            )
            .trim()
            .to_string(),
        );
    }
    a
}

fn collect(
    cs: Vec<&Value>,
    comps: &mut HashMap<String, Package>,
    nested: &mut Vec<(Value, String)>,
) {
    for c in cs {
        let Some(name) = s(c, &["name"]) else {
            continue;
        };
        let name = match s(c, &["group"]) {
            Some(g) if !name.contains(g) => format!("{g}:{name}"),
            _ => name.to_string(),
        };
        let purl = s(c, &["purl"]);
        let r = s(c, &["bom-ref"])
            .or(purl)
            .map(str::to_string)
            .unwrap_or_else(|| name.clone());
        let pkg = Package {
            name,
            version: s(c, &["version"]).map(str::to_string),
            fixed_version: None,
            ecosystem: purl
                .and_then(|p| p.strip_prefix("pkg:"))
                .and_then(|p| p.split('/').next())
                .map(str::to_string),
            path: None,
        };
        for v in list(&c["vulnerabilities"]) {
            nested.push((v.clone(), r.clone()));
        }
        comps.insert(r, pkg);
        collect(list(&c["components"]), comps, nested);
    }
}

/// A package from a bare purl reference (`pkg:npm/foo@1.2`) when the component is not listed.
fn from_ref(r: &str) -> Package {
    let p = r.strip_prefix("pkg:").unwrap_or(r);
    let p = p.split(['?', '#']).next().unwrap_or(p);
    let (path, version) = match p.rsplit_once('@') {
        Some((a, b)) => (a, Some(b.to_string())),
        None => (p, None),
    };
    let (eco, name) = match path.split_once('/') {
        Some((e, n)) if r.starts_with("pkg:") => (Some(e.to_string()), n.replace("%40", "@")),
        _ => (None, path.to_string()),
    };
    Package {
        name,
        version,
        fixed_version: None,
        ecosystem: eco,
        path: None,
    }
}

fn vuln(v: &Value) -> std::result::Result<Exposure, String> {
    let id = s(v, &["id"]).ok_or("missing id")?;
    let ratings = list(&v["ratings"]);
    let mut sev = Severity::Unknown;
    let mut best_score: Option<f64> = None;
    let mut cvss = Vec::new();
    for r in &ratings {
        if let Some(w) = s(r, &["severity"]) {
            let x = Severity::parse(w).ok_or_else(|| format!("unknown severity {w:?}"))?;
            sev = sev.max(x);
        }
        let score = num(r, "score").or_else(|| num(&r["score"], "base"));
        if let Some(x) = score {
            best_score = Some(best_score.map_or(x, |b: f64| b.max(x)));
        }
        let method = s(r, &["method"]).unwrap_or("");
        let version = match method {
            "CVSSv2" => Some("2.0"),
            "CVSSv3" => Some("3.0"),
            "CVSSv31" => Some("3.1"),
            "CVSSv4" => Some("4.0"),
            _ => None,
        };
        if let Some(ver) = version
            && (score.is_some() || s(r, &["vector"]).is_some())
        {
            cvss.push(Cvss {
                version: ver.into(),
                vector: s(r, &["vector"]).map(str::to_string),
                score,
                source: s(r, &["source", "name"]).map(str::to_string),
            });
        }
    }
    if sev == Severity::Unknown
        && let Some(x) = best_score
    {
        sev = Severity::from_cvss(x);
    }
    let mut e = Exposure::new(ExposureKind::Vulnerability, id, sev);
    e.add_vuln_id(id);
    for r in list(&v["references"]) {
        if let Some(x) = s(r, &["id"]) {
            e.add_vuln_id(x);
        }
    }
    for c in list(&v["cwes"]) {
        match c {
            Value::Number(n) => e.add_cwe(&n.to_string()),
            Value::String(x) => e.add_cwe(x),
            _ => {}
        }
    }
    e.cvss = cvss;
    e.description = s(v, &["description"])
        .or(s(v, &["detail"]))
        .map(str::to_string);
    e.solution = s(v, &["recommendation"]).map(str::to_string);
    if let Some(state) = s(v, &["analysis", "state"]) {
        let note = format!(
            "VEX analysis: {state}{}{}",
            s(v, &["analysis", "justification"])
                .map(|j| format!(" ({j})"))
                .unwrap_or_default(),
            s(v, &["analysis", "detail"])
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
        e.solution = Some(match e.solution.take() {
            Some(sol) => format!("{note}\n{sol}"),
            None => note,
        });
        // the store applies it to this exposure and to matching stored ones
        e.status = crate::common::vex_status(state);
    }
    e.references
        .extend(s(v, &["source", "url"]).map(str::to_string));
    for a in list(&v["advisories"]) {
        if let Some(u) = s(a, &["url"]).or(a.as_str()) {
            e.references.push(u.to_string());
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use crate::{Record, parse_bytes};

    #[test]
    fn vex_not_affected_is_kept_with_a_note() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
            {"bom-ref":"pkg:npm/lodash@4.17.20","name":"lodash","version":"4.17.20","purl":"pkg:npm/lodash@4.17.20"}],
          "vulnerabilities":[{"id":"CVE-2021-23337","ratings":[{"severity":"high"}],
            "analysis":{"state":"not_affected","justification":"code_not_reachable","detail":"template() unused"},
            "affects":[{"ref":"pkg:npm/lodash@4.17.20"}]}]}"#;
        let recs = parse_bytes(&super::FORMAT, doc).expect("parses");
        let e = recs
            .iter()
            .find_map(|r| match r {
                Record::Exposure { exposure, .. } => Some(exposure),
                _ => None,
            })
            .expect("one exposure");
        assert_eq!(e.cves, vec!["CVE-2021-23337"]);
        assert_eq!(e.package.as_ref().map(|p| p.name.as_str()), Some("lodash"));
        let note = e.solution.as_deref().unwrap_or("");
        assert!(
            note.starts_with("VEX analysis: not_affected (code_not_reachable)"),
            "{note}"
        );
    }

    #[test]
    fn xml_entity_declarations_are_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component><name>&x;</name></component></components></bom>"#;
        let err = parse_bytes(&super::FORMAT, xxe).expect_err("refused");
        assert!(matches!(err, crate::Error::Refused(_)), "{err}");
    }
}
