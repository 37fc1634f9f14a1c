//! OSV-Scanner JSON (`osv-scanner --format json`). Each scanned source (lock file, SBOM,
//! container layer) is one application asset named by its path; each vulnerability of each
//! package is a package vulnerability with its OSV id and aliases (CVE, GHSA), CWEs from
//! `database_specific`, and severity from `database_specific.severity`, the group's
//! `max_severity` (a CVSS score), or `critical` for `MAL-` malicious-package advisories.

use std::io::BufRead;

use ctem_model::{AssetKind, Cvss, Exposure, ExposureKind, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, num, package, read_json, s, severity};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "osv_scanner",
    kind: FormatKind::Scanner,
    description: "OSV-Scanner JSON (results per source, packages with OSV vulnerabilities)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: true,
        null: false,
        empty_array: false,
        example: r#""#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "results")
        && has(head, "packages")
        && (has(head, "source") || has(head, "vulnerabilities"))
    {
        85
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "OSV-Scanner")?;
    let Some(results) = doc.get("results").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `results` array: not an OSV-Scanner report".into(),
        ));
    };
    let mut out = Out::new(emit);
    out.scan(Some("osv-scanner"))?;
    for (ri, r) in results.iter().enumerate() {
        let path = s(r, &["source", "path"]).unwrap_or("osv-scanner source");
        let key = out.asset(named_asset(AssetKind::Application, path))?;
        for (pi, p) in arr(r, "packages").iter().enumerate() {
            let pkg = &p["package"];
            for (vi, v) in arr(p, "vulnerabilities").iter().enumerate() {
                let place = format!("results[{ri}].packages[{pi}].vulnerabilities[{vi}]");
                match one(v, pkg, p, path) {
                    Ok(e) => out.exposure(key, e)?,
                    Err(m) => out.issue(place, m)?,
                }
            }
        }
    }
    Ok(())
}

fn one(v: &Value, pkg: &Value, p: &Value, path: &str) -> std::result::Result<Exposure, String> {
    let id = s(v, &["id"]).ok_or("missing id")?;
    let name = s(pkg, &["name"]).ok_or("missing package.name")?;
    let group_max = arr(p, "groups")
        .iter()
        .find(|g| arr(g, "ids").iter().any(|x| x.as_str() == Some(id)))
        .and_then(|g| num(g, "max_severity"));
    let word = s(v, &["database_specific", "severity"]);
    let sev = match (word, group_max) {
        (Some(w), _) => severity(Some(w))?,
        (None, Some(x)) => Severity::from_cvss(x),
        (None, None) if id.starts_with("MAL-") => Severity::Critical,
        _ => Severity::Unknown,
    };
    let title = s(v, &["summary"])
        .map(str::to_string)
        .unwrap_or_else(|| format!("{id} in {name}"));
    let mut e = Exposure::new(ExposureKind::Vulnerability, title, sev);
    // CVE aliases first so cross-tool dedup keys on the CVE
    for a in arr(v, "aliases").iter().filter_map(Value::as_str) {
        e.add_vuln_id(a);
    }
    e.add_vuln_id(id);
    e.rule_id = Some(id.to_string());
    let fixed = arr(v, "affected")
        .iter()
        .flat_map(|a| arr(a, "ranges"))
        .flat_map(|r| arr(r, "events"))
        .find_map(|ev| s(ev, &["fixed"]));
    e.package = Some(package(
        name,
        s(pkg, &["version"]),
        fixed,
        s(pkg, &["ecosystem"]),
        Some(path),
    ));
    e.description = s(v, &["details"]).map(str::to_string);
    for c in arr(v, "affected")
        .iter()
        .flat_map(|a| arr(&a["database_specific"], "cwes"))
    {
        if let Some(id) = s(c, &["cweId"]) {
            e.add_cwe(id);
        }
    }
    for c in arr(&v["database_specific"], "cwe_ids")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_cwe(c);
    }
    for sv in arr(v, "severity") {
        if let Some(vec) = s(sv, &["score"]).filter(|x| x.starts_with("CVSS:")) {
            let version = if vec.starts_with("CVSS:4") {
                "4.0"
            } else if vec.starts_with("CVSS:3.0") {
                "3.0"
            } else {
                "3.1"
            };
            e.cvss.push(Cvss {
                version: version.into(),
                vector: Some(vec.into()),
                score: None,
                source: Some("osv".into()),
            });
        }
    }
    e.references.extend(
        arr(v, "references")
            .iter()
            .filter_map(|r| s(r, &["url"]))
            .map(str::to_string),
    );
    Ok(e)
}
