//! Rapid7 Nexpose / InsightVM XML export 2.0 (`<NexposeReport version="2.0">`). Each node is a
//! host asset (address, names, OS fingerprint); each endpoint is a service. Every test with a
//! `vulnerable-*` status, on the node or on one of its endpoints' services, becomes an
//! exposure on that host (and port), joined with its definition from
//! `VulnerabilityDefinitions`: title, CVSS score and vector, CVEs from the references,
//! description and solution. Severity from the CVSS score, else Nexpose's 1-10 severity read
//! as a score. Vulnerability checks of `pci`/`policy` kinds are not treated differently.

use std::collections::HashMap;
use std::io::BufRead;

use ctem_model::{AssetKey, Cvss, Exposure, ExposureKind, Service, Severity};

use crate::common::{Node, Out, host_asset2, read_xml_doc, xml_root};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "nexpose",
    kind: FormatKind::Scanner,
    description: "Rapid7 Nexpose / InsightVM XML export 2.0",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0"?><NexposeReport version="2.0"><scans/><nodes/><VulnerabilityDefinitions/></NexposeReport>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    match xml_root(head) {
        Some(r) if r == "NexposeReport" => 95,
        _ => 0,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let root = read_xml_doc(input, "Nexpose")?;
    if root.name != "NexposeReport" {
        return Err(Error::Refused(format!(
            "not a Nexpose report: root element is <{}>",
            root.name
        )));
    }
    let mut defs: HashMap<String, &Node> = HashMap::new();
    for d in root
        .child("VulnerabilityDefinitions")
        .into_iter()
        .flat_map(|v| v.all("vulnerability"))
    {
        if let Some(id) = d.attr("id") {
            defs.insert(id.to_ascii_lowercase(), d);
        }
    }
    let mut out = Out::new(emit);
    for (ni, n) in root
        .child("nodes")
        .into_iter()
        .flat_map(|x| x.all("node"))
        .enumerate()
    {
        let mut asset = host_asset2(n.attr("address"), n.at(&["names", "name"]));
        if let Some(os) = n.child("fingerprints").and_then(|f| f.child("os")) {
            let parts: Vec<&str> = ["vendor", "product", "version"]
                .iter()
                .filter_map(|k| os.attr(k))
                .collect();
            asset.os = Some(parts.join(" ")).filter(|s| !s.is_empty());
        }
        let key = out.asset(asset)?;
        let place = format!("nodes.node[{ni}]");
        tests(&mut out, key, n.child("tests"), None, &defs, &place)?;
        for ep in n
            .child("endpoints")
            .into_iter()
            .flat_map(|e| e.all("endpoint"))
        {
            let port: Option<u16> = ep.attr("port").and_then(|p| p.parse().ok());
            let proto = ep.attr("protocol").unwrap_or("tcp").to_ascii_lowercase();
            for svc in ep
                .child("services")
                .into_iter()
                .flat_map(|s| s.all("service"))
            {
                if let Some(p) = port {
                    out.service(
                        key,
                        Service {
                            protocol: proto.clone(),
                            port: p,
                            state: ep.attr("status").unwrap_or("open").to_string(),
                            name: svc.attr("name").map(|n| n.to_ascii_lowercase()),
                            product: None,
                            version: None,
                            cpe: Vec::new(),
                        },
                    )?;
                }
                tests(
                    &mut out,
                    key,
                    svc.child("tests"),
                    port.map(|p| (p, proto.clone())),
                    &defs,
                    &place,
                )?;
            }
        }
    }
    Ok(())
}

fn tests(
    out: &mut Out<'_, '_>,
    key: AssetKey,
    tests: Option<&Node>,
    port: Option<(u16, String)>,
    defs: &HashMap<String, &Node>,
    place: &str,
) -> Result<()> {
    for (ti, t) in tests.into_iter().flat_map(|t| t.all("test")).enumerate() {
        if !t.attr("status").unwrap_or("").starts_with("vulnerable") {
            continue;
        }
        let Some(id) = t.attr("id") else {
            out.issue(format!("{place}.test[{ti}]"), "test without id")?;
            continue;
        };
        let def = defs.get(&id.to_ascii_lowercase()).copied();
        let score = def
            .and_then(|d| d.attr("cvssScore"))
            .and_then(|s| s.parse::<f64>().ok());
        let sev = match (
            score,
            def.and_then(|d| d.attr("severity"))
                .and_then(|s| s.parse::<f64>().ok()),
        ) {
            (Some(s), _) if s > 0.0 => Severity::from_cvss(s),
            (_, Some(n)) => Severity::from_cvss(n),
            _ => Severity::Unknown,
        };
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            def.and_then(|d| d.attr("title")).unwrap_or(id),
            sev,
        );
        e.rule_id = Some(id.to_string());
        if let Some((p, proto)) = &port {
            e.port = Some(*p);
            e.protocol = Some(proto.clone());
        }
        if let Some(d) = def {
            for r in d
                .child("references")
                .into_iter()
                .flat_map(|r| r.all("reference"))
            {
                match r.attr("source") {
                    Some("CVE") => e.add_vuln_id(r.text.trim()),
                    Some("URL") => e.references.push(r.text.trim().to_string()),
                    _ => {}
                }
            }
            if let Some(v) = d.attr("cvssVector") {
                let v = v.trim_matches(['(', ')']);
                e.cvss.push(Cvss {
                    version: if v.starts_with("CVSS:3") {
                        "3.1".into()
                    } else {
                        "2.0".into()
                    },
                    vector: Some(v.to_string()),
                    score,
                    source: Some("nexpose".into()),
                });
            }
            e.description = d
                .child("description")
                .map(|x| squash(&x.deep_text()))
                .filter(|s| !s.is_empty());
            e.solution = d
                .child("solution")
                .map(|x| squash(&x.deep_text()))
                .filter(|s| !s.is_empty());
        }
        e.evidence = Some(squash(&t.deep_text())).filter(|s| !s.is_empty());
        out.exposure(key, e)?;
    }
    Ok(())
}

/// Collapses the whitespace of pretty-printed XML text.
fn squash(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
