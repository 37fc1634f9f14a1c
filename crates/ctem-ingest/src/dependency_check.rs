//! OWASP Dependency-Check XML reports (`<analysis>`, schema 1.3 to 3.x). The project is one
//! application asset (`projectInfo/name`). Each vulnerability of each dependency is a
//! package vulnerability: the package from the dependency's purl (`packages/package/id`,
//! or the older `identifiers`), else its file name; its file path as the package path. A
//! vulnerability shared by related dependencies (the same library bundled at several paths)
//! is one exposure per path. Suppressed vulnerabilities are left out. Severity: the NVD
//! word (`MODERATE` is medium), else the CVSS v3 / v2 score.

use std::io::BufRead;

use ctem_model::{AssetKind, Cvss, Exposure, ExposureKind, Package, Severity};

use crate::common::{Node, Out, named_asset, purl_package, read_xml_doc, xml_root};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "dependency_check",
    kind: FormatKind::Scanner,
    description: "OWASP Dependency-Check XML reports",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0"?><analysis xmlns="https://jeremylong.github.io/DependencyCheck/dependency-check.2.5.xsd"><projectInfo><name>app</name></projectInfo><dependencies/></analysis>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    match xml_root(head) {
        Some(r) if r == "analysis" && crate::common::contains(head, "DependencyCheck") => 95,
        Some(r) if r == "analysis" && crate::common::contains(head, "<dependencies") => 80,
        _ => 0,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let root = read_xml_doc(input, "Dependency-Check")?;
    if root.name != "analysis" {
        return Err(Error::Refused(format!(
            "not a Dependency-Check report: root element is <{}>",
            root.name
        )));
    }
    let mut out = Out::new(emit);
    let project = root
        .at(&["projectInfo", "name"])
        .unwrap_or("dependency-check project");
    let mut key = None;
    for (di, d) in root
        .child("dependencies")
        .into_iter()
        .flat_map(|x| x.all("dependency"))
        .enumerate()
    {
        let vulns: Vec<&Node> = d
            .child("vulnerabilities")
            .into_iter()
            .flat_map(|v| v.all("vulnerability"))
            .collect();
        if vulns.is_empty() {
            continue;
        }
        let k = match key {
            Some(k) => k,
            None => {
                let k = out.asset(named_asset(AssetKind::Application, project))?;
                key = Some(k);
                k
            }
        };
        let pkg = package_of(d);
        let mut paths = vec![d.text_of("filePath").map(str::to_string)];
        for r in d
            .child("relatedDependencies")
            .into_iter()
            .flat_map(|r| r.all("relatedDependency"))
        {
            paths.push(r.text_of("filePath").map(str::to_string));
        }
        for (vi, v) in vulns.into_iter().enumerate() {
            let place = format!("dependencies.dependency[{di}].vulnerabilities[{vi}]");
            let Some(id) = v.text_of("name") else {
                out.issue(place, "vulnerability without name")?;
                continue;
            };
            let base = match vuln(v, id, &pkg) {
                Ok(e) => e,
                Err(m) => {
                    out.issue(place, m)?;
                    continue;
                }
            };
            for p in &paths {
                let mut e = base.clone();
                if let Some(pk) = e.package.as_mut() {
                    pk.path = p.clone();
                }
                out.exposure(k, e)?;
            }
        }
    }
    Ok(())
}

fn package_of(d: &Node) -> Package {
    let purl = d
        .child("packages")
        .into_iter()
        .flat_map(|p| p.all("package"))
        .find_map(|p| p.text_of("id"))
        .or_else(|| {
            d.child("identifiers")
                .into_iter()
                .flat_map(|i| i.all("package"))
                .find_map(|p| p.text_of("id"))
        });
    let from_identifier = d
        .child("identifiers")
        .into_iter()
        .flat_map(|i| i.all("identifier"))
        .find(|i| i.attr("type") == Some("maven"))
        .and_then(|i| i.text_of("name"))
        .map(|n| n.trim_matches(['(', ')']).to_string());
    match purl.and_then(purl_package) {
        Some(p) => p,
        None => {
            let file = d.text_of("fileName").unwrap_or("dependency");
            let (name, version) = match from_identifier
                .as_deref()
                .map(|g| g.rsplitn(2, ':').collect::<Vec<_>>())
            {
                Some(v) if v.len() == 2 => (v[1].to_string(), Some(v[0].to_string())),
                _ => (file.to_string(), None),
            };
            Package {
                name,
                version,
                ..Package::default()
            }
        }
    }
}

fn vuln(v: &Node, id: &str, pkg: &Package) -> std::result::Result<Exposure, String> {
    let v3 = v.child("cvssV3");
    let v2 = v.child("cvssV2");
    let score3 = v3
        .and_then(|c| c.text_of("baseScore"))
        .and_then(|s| s.parse::<f64>().ok());
    let score2 = v2
        .and_then(|c| c.text_of("score"))
        .and_then(|s| s.parse::<f64>().ok());
    let sev = match v.text_of("severity") {
        Some(w) => Severity::parse(w).ok_or_else(|| format!("unknown severity {w:?}"))?,
        None => score3
            .or(score2)
            .map(Severity::from_cvss)
            .unwrap_or_default(),
    };
    let mut e = Exposure::new(
        ExposureKind::Vulnerability,
        format!("{id} in {}", pkg.name),
        sev,
    );
    e.add_vuln_id(id);
    for c in v.child("cwes").into_iter().flat_map(|c| c.all("cwe")) {
        e.add_cwe(c.text.trim());
    }
    if let Some(c) = v.text_of("cwe") {
        e.add_cwe(c.split(' ').next().unwrap_or(c));
    }
    if let Some(s) = score3 {
        let ver = v3.and_then(|c| c.text_of("version")).unwrap_or("3.1");
        e.cvss.push(Cvss {
            version: if ver.starts_with("3.0") {
                "3.0".into()
            } else {
                "3.1".into()
            },
            vector: None,
            score: Some(s),
            source: v.attr("source").map(str::to_ascii_lowercase),
        });
    }
    if let Some(s) = score2 {
        e.cvss.push(Cvss {
            version: "2.0".into(),
            vector: None,
            score: Some(s),
            source: v.attr("source").map(str::to_ascii_lowercase),
        });
    }
    e.package = Some(pkg.clone());
    e.description = v.text_of("description").map(str::to_string);
    e.references = v
        .child("references")
        .into_iter()
        .flat_map(|r| r.all("reference"))
        .filter_map(|r| r.text_of("url"))
        .map(str::to_string)
        .collect();
    Ok(e)
}
