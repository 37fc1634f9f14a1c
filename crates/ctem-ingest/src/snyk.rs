//! Snyk: `snyk test --json` (one project object, or an array with `--all-projects`),
//! `snyk container test --json` (same shape with `docker`), and the REST issues API
//! (`{"jsonapi": ..., "data": [issue, ...]}`, SCA and code issues). Snyk Code's own output is
//! SARIF and is read by the `sarif` format.
//!
//! One asset per project: a container image for container projects, else an application
//! named by the project. Each vulnerability becomes a package vulnerability; the test output
//! repeats a vulnerability once per dependency path (`from`), and these repeats are merged
//! (same id and package; the first version listed is kept, as the package fingerprint leaves
//! versions out), so counts match Snyk's `uniqueCount`. License issues (`type: license`) are
//! left out: they are not exposures.

use std::collections::HashSet;
use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind, Location};
use serde_json::Value;

use crate::common::{
    Out, arr, cvss, has, image_asset, is_json, named_asset, num, package, read_json, s, severity,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "snyk",
    kind: FormatKind::Scanner,
    description: "Snyk CLI test JSON (open source, all-projects, container) and REST issues API",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"vulnerabilities": [], "ok": true, "dependencyCount": 0, "org": "myorg", "packageManager": "npm", "summary": "No known vulnerabilities"}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if !is_json(head) {
        return 0;
    }
    let cli = has(head, "vulnerabilities")
        && (has(head, "packageManager") || has(head, "dependencyCount"))
        && (has(head, "org") || has(head, "ok"));
    let cli2 = has(head, "vulnerabilities") && crate::common::contains(head, "\"SNYK-");
    let api = has(head, "jsonapi") && has(head, "data");
    if cli || cli2 || api { 88 } else { 0 }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Snyk")?;
    let mut out = Out::new(emit);
    if doc.get("jsonapi").is_some() {
        return api(&mut out, &doc);
    }
    let projects: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&doc],
        _ => vec![],
    };
    if projects.iter().any(|p| p.get("vulnerabilities").is_none())
        || projects.is_empty() && !doc.is_array()
    {
        return Err(Error::Refused(
            "no `vulnerabilities`: not a Snyk test report".into(),
        ));
    }
    for (pi, p) in projects.iter().enumerate() {
        let name = s(p, &["projectName"])
            .or(s(p, &["path"]))
            .unwrap_or("snyk project");
        let asset = if p.get("docker").is_some() || name.starts_with("docker-image|") {
            let r = name.trim_start_matches("docker-image|");
            let mut a = image_asset(Some(r), None);
            a.os = s(p, &["platform"]).map(str::to_string);
            a
        } else {
            named_asset(AssetKind::Application, name)
        };
        let key = out.asset(asset)?;
        let target = s(p, &["displayTargetFile"]);
        let mut seen = HashSet::new();
        for (vi, v) in arr(p, "vulnerabilities").iter().enumerate() {
            let place = if doc.is_array() {
                format!("[{pi}].vulnerabilities[{vi}]")
            } else {
                format!("vulnerabilities[{vi}]")
            };
            if s(v, &["type"]) == Some("license") {
                continue;
            }
            // one exposure per (vulnerability, package), the unit of Snyk's `uniqueCount` and of the
            // package fingerprint (which leaves the version out)
            let ident = (s(v, &["id"]), s(v, &["packageName"]));
            if !seen.insert(ident) {
                continue;
            }
            match vuln(v, target, p) {
                Ok(e) => out.exposure(key, e)?,
                Err(m) => out.issue(place, m)?,
            }
        }
    }
    Ok(())
}

fn vuln(v: &Value, target: Option<&str>, p: &Value) -> std::result::Result<Exposure, String> {
    let id = s(v, &["id"]).ok_or("missing id")?;
    let name = s(v, &["packageName"]).ok_or("missing packageName")?;
    let sev = severity(s(v, &["severityWithCritical"]).or(s(v, &["severity"])))?;
    let mut e = Exposure::new(
        ExposureKind::Vulnerability,
        s(v, &["title"]).unwrap_or(id),
        sev,
    );
    for c in arr(&v["identifiers"], "CVE")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_vuln_id(c);
    }
    for c in arr(&v["identifiers"], "GHSA")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_vuln_id(c);
    }
    e.add_vuln_id(id);
    for c in arr(&v["identifiers"], "CWE")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_cwe(c);
    }
    e.rule_id = Some(id.to_string());
    let fixed: Vec<&str> = arr(v, "fixedIn").iter().filter_map(Value::as_str).collect();
    e.package = Some(package(
        name,
        s(v, &["version"]),
        (!fixed.is_empty()).then(|| fixed.join(", ")).as_deref(),
        s(v, &["packageManager"]).or(s(p, &["packageManager"])),
        target,
    ));
    e.cvss
        .extend(cvss(s(v, &["CVSSv3"]), num(v, "cvssScore"), "snyk"));
    e.description = s(v, &["description"]).map(str::to_string);
    let from: Vec<&str> = arr(v, "from").iter().filter_map(Value::as_str).collect();
    if !from.is_empty() {
        e.evidence = Some(format!("introduced through {}", from.join(" > ")));
    }
    if let Some(up) = arr(v, "upgradePath")
        .iter()
        .filter_map(Value::as_str)
        .next()
    {
        e.solution = Some(format!("upgrade to {up}"));
    } else if !fixed.is_empty() {
        e.solution = Some(format!("upgrade {name} to {}", fixed.join(" or ")));
    }
    e.references.extend(
        arr(v, "references")
            .iter()
            .filter_map(|r| s(r, &["url"]))
            .map(str::to_string),
    );
    Ok(e)
}

fn api(out: &mut Out<'_, '_>, doc: &Value) -> Result<()> {
    let Some(data) = doc.get("data").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "JSON:API document without a `data` array: not a Snyk issues export".into(),
        ));
    };
    for (i, it) in data.iter().enumerate() {
        let place = format!("data[{i}]");
        let a = &it["attributes"];
        let project =
            s(it, &["relationships", "scan_item", "data", "id"]).unwrap_or("snyk project");
        let Some(key_id) = s(a, &["key"]) else {
            out.issue(place, "missing attributes.key")?;
            continue;
        };
        let sev = match severity(s(a, &["effective_severity_level"])) {
            Ok(x) => x,
            Err(m) => {
                out.issue(place, m)?;
                continue;
            }
        };
        let code = s(a, &["type"]) == Some("code");
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            s(a, &["title"]).unwrap_or(key_id),
            sev,
        );
        for p in arr(a, "problems") {
            if let Some(pid) = s(p, &["id"]).filter(|x| {
                x.starts_with("CVE-") || x.starts_with("GHSA-") || x.starts_with("SNYK-")
            }) {
                e.add_vuln_id(pid);
            }
        }
        for c in arr(a, "classes") {
            if let Some(c) = s(c, &["id"]) {
                e.add_cwe(c);
            }
        }
        e.rule_id = Some(key_id.to_string());
        e.description = s(a, &["description"]).map(str::to_string);
        let rep = arr(a, "coordinates")
            .first()
            .map(|c| arr(c, "representations"))
            .and_then(|r| r.first());
        if let Some(r) = rep {
            if let Some(d) = r.get("dependency") {
                if let Some(n) = s(d, &["package_name"]) {
                    e.package = Some(package(n, s(d, &["package_version"]), None, None, None));
                }
            } else if let Some(sl) = r.get("sourceLocation") {
                e.location = Some(Location {
                    path: s(sl, &["file"]).map(str::to_string),
                    line: sl["region"]["start"]["line"].as_u64().map(|l| l as u32),
                    resource: None,
                });
                e.tool_key = Some(key_id.to_string());
            }
        }
        for sv in arr(a, "severities").iter().take(1) {
            e.cvss.extend(cvss(
                s(sv, &["vector"]),
                num(sv, "score"),
                s(sv, &["source"]).unwrap_or("snyk"),
            ));
        }
        let kind = if code {
            AssetKind::Repository
        } else {
            AssetKind::Application
        };
        let key = out.asset(named_asset(kind, project))?;
        out.exposure(key, e)?;
    }
    Ok(())
}
