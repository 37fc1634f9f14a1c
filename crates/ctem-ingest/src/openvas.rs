//! OpenVAS / Greenbone (GVM) reports: the XML report format (`<report>` with `<results>`,
//! GMP 7-22) and the CSV results export. Each host (IP, with its host name) is an asset;
//! each result of a threat above `Log` becomes an exposure on its host with the NVT OID as
//! rule id, the port (`443/tcp`; `general/tcp` has none), CVEs from the NVT refs, the
//! severity score as CVSS, and summary, solution and the specific result from the NVT tags.
//! `Log` / `Debug` results (severity 0) are information, not exposures, and are skipped.

use std::io::BufRead;

use ctem_model::{Cvss, Exposure, ExposureKind, Severity};

use crate::common::{Csv, Node, Out, csv_header, host_asset2, read_all, xml_root};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "openvas",
    kind: FormatKind::Scanner,
    description: "OpenVAS / Greenbone XML reports and CSV result exports",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<report id="r" format_id="a994b278-1f62-11e1-96ac-406186ea4fc5" extension="xml"><report id="r"><results start="1" max="100"/></report></report>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if let Some(r) = xml_root(head) {
        let c = |n: &str| crate::common::contains(head, n);
        return if r == "report" && (c("<gmp>") || c("format_id=") || c("<nvt ")) {
            95
        } else {
            0
        };
    }
    match csv_header(head) {
        Some(h) if h.contains("nvt name") && h.contains("nvt oid") => 95,
        _ => 0,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "OpenVAS")?;
    let mut out = Out::new(emit);
    if crate::trim_ascii_bom(&buf).starts_with(b"<") {
        let mut r: &[u8] = &buf;
        let root = crate::common::read_xml(&mut r)?;
        if root.name != "report" {
            return Err(Error::Refused(format!(
                "not an OpenVAS report: root element is <{}>",
                root.name
            )));
        }
        xml(&mut out, &root)
    } else {
        let mut r: &[u8] = &buf;
        let csv = crate::common::read_csv(&mut r, "OpenVAS")?;
        csv_rows(&mut out, &csv)
    }
}

fn split_port(p: &str) -> (Option<u16>, Option<String>) {
    let (port, proto) = p.split_once('/').unwrap_or((p, ""));
    (
        port.trim().parse().ok().filter(|p| *p > 0),
        Some(proto.trim().to_ascii_lowercase()).filter(|p| !p.is_empty()),
    )
}

fn sev_of(threat: Option<&str>, score: Option<f64>) -> Option<Severity> {
    match threat.map(str::to_ascii_lowercase).as_deref() {
        Some("log") | Some("debug") | Some("false positive") => None,
        Some("alarm") => Some(Severity::Critical),
        Some(w) => Severity::parse(w).or(score.map(Severity::from_cvss)),
        None => score
            .map(Severity::from_cvss)
            .filter(|s| *s != Severity::Info),
    }
}

fn tag<'t>(tags: &'t str, key: &str) -> Option<&'t str> {
    tags.split('|')
        .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn xml(out: &mut Out<'_, '_>, root: &Node) -> Result<()> {
    let mut results = Vec::new();
    root.find_all("results", &mut results);
    for (i, r) in results.iter().flat_map(|rs| rs.all("result")).enumerate() {
        let place = format!("results.result[{i}]");
        let host = r.child("host");
        let ip = host.map(|h| h.text.trim()).filter(|t| !t.is_empty());
        let Some(ip) = ip else {
            out.issue(place, "result without host")?;
            continue;
        };
        let score = r.text_of("severity").and_then(|s| s.parse::<f64>().ok());
        let Some(sev) = sev_of(r.text_of("threat"), score) else {
            continue;
        };
        let key = out.asset(host_asset2(
            Some(ip),
            host.and_then(|h| h.text_of("hostname")),
        ))?;
        let nvt = r.child("nvt");
        let name = r
            .text_of("name")
            .or(nvt.and_then(|n| n.text_of("name")))
            .unwrap_or("openvas result");
        let mut e = Exposure::new(ExposureKind::Vulnerability, name, sev);
        e.rule_id = nvt.and_then(|n| n.attr("oid")).map(str::to_string);
        let (port, proto) = split_port(r.text_of("port").unwrap_or(""));
        e.port = port;
        e.protocol = proto;
        if let Some(n) = nvt {
            for rf in n.child("refs").into_iter().flat_map(|x| x.all("ref")) {
                match (rf.attr("type"), rf.attr("id")) {
                    (Some("cve"), Some(id)) => e.add_vuln_id(id),
                    (Some("url"), Some(u)) => e.references.push(u.to_string()),
                    _ => {}
                }
            }
            for c in n
                .text_of("cve")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|c| c.starts_with("CVE-"))
            {
                e.add_vuln_id(c);
            }
            let tags = n.text_of("tags").unwrap_or("");
            e.description = tag(tags, "summary").map(str::to_string);
            e.solution = tag(tags, "solution")
                .or(n.at(&["solution"]))
                .map(str::to_string);
            if let Some(v) = tag(tags, "cvss_base_vector") {
                e.cvss.push(Cvss {
                    version: if v.starts_with("CVSS:3") {
                        "3.1".into()
                    } else {
                        "2.0".into()
                    },
                    vector: Some(v.into()),
                    score,
                    source: Some("openvas".into()),
                });
            }
        }
        if e.cvss.is_empty()
            && let Some(s) = score
        {
            e.cvss.push(Cvss {
                version: "3.1".into(),
                vector: None,
                score: Some(s),
                source: Some("openvas".into()),
            });
        }
        e.evidence = r.text_of("description").map(str::to_string);
        e.first_seen = crate::common::time(r.text_of("creation_time"));
        out.exposure(key, e)?;
    }
    Ok(())
}

fn csv_rows(out: &mut Out<'_, '_>, csv: &Csv) -> Result<()> {
    let c = |n: &[&str]| csv.col(n);
    let (ip, hn, port, proto, cvss_c, sev, name, summary, result, oid, cves, sol, refs) = (
        c(&["IP"]),
        c(&["Hostname"]),
        c(&["Port"]),
        c(&["Port Protocol"]),
        c(&["CVSS"]),
        c(&["Severity"]),
        c(&["NVT Name"]),
        c(&["Summary"]),
        c(&["Specific Result"]),
        c(&["NVT OID"]),
        c(&["CVEs"]),
        c(&["Solution"]),
        c(&["Other References"]),
    );
    if ip.is_none() || name.is_none() {
        return Err(Error::Refused(
            "CSV without IP and NVT Name columns: not an OpenVAS export".into(),
        ));
    }
    for (line, row) in &csv.rows {
        let place = format!("line {line}");
        let Some(addr) = csv.get(row, ip) else {
            out.issue(place, "row without IP")?;
            continue;
        };
        let score = csv.get(row, cvss_c).and_then(|s| s.parse::<f64>().ok());
        let Some(sv) = sev_of(csv.get(row, sev), score) else {
            continue;
        };
        let key = out.asset(host_asset2(Some(addr), csv.get(row, hn)))?;
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            csv.get(row, name).unwrap_or("openvas result"),
            sv,
        );
        e.rule_id = csv.get(row, oid).map(str::to_string);
        e.port = csv
            .get(row, port)
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0);
        e.protocol = csv.get(row, proto).map(str::to_ascii_lowercase);
        for id in csv.get(row, cves).unwrap_or("").split(',') {
            e.add_vuln_id(id);
        }
        e.cvss.extend(score.map(|s| Cvss {
            version: "3.1".into(),
            vector: None,
            score: Some(s),
            source: Some("openvas".into()),
        }));
        e.description = csv.get(row, summary).map(str::to_string);
        e.evidence = csv.get(row, result).map(str::to_string);
        e.solution = csv.get(row, sol).map(str::to_string);
        e.references.extend(
            csv.get(row, refs)
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|r| r.starts_with("http"))
                .map(str::to_string),
        );
        out.exposure(key, e)?;
    }
    Ok(())
}
