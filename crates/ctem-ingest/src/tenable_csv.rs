//! Tenable CSV exports: Nessus scan CSV (default and "all columns"), Tenable.sc vulnerability
//! CSV (`Plugin`, `IP Address`, `DNS Name`), Tenable.io / Vulnerability Management CSV and
//! Tenable WAS CSV. Nessus writes one row per plugin, host, port and CVE; those rows are
//! merged into one exposure (CVEs collected), so the counts are per plugin, host and port,
//! as in the .nessus file. Rows of risk `None` / `Info` are informational and skipped.
//!
//! Each host is an asset (IP, FQDN, NetBIOS name, MAC; a URL host, as Tenable WAS writes it,
//! is a web application); the plugin id is the rule id (so findings dedupe with the
//! `.nessus` import of the same scan: same tool-independent fields, tool `tenable_csv`).

use std::collections::HashMap;
use std::io::BufRead;

use ctem_model::{AssetKey, Cvss, Exposure, ExposureKind, Identifier, IdentifierKind, Severity};

use crate::common::{Out, csv_header, host_asset2, read_csv, web_asset};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "tenable_csv",
    kind: FormatKind::Scanner,
    description: "Tenable CSV exports (Nessus, Tenable.sc, Tenable.io / VM, Tenable WAS)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        "Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,Synopsis,Description,Solution,See Also,Plugin Output\n",
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    match csv_header(head) {
        Some(h)
            if h.contains("plugin")
                && (h.contains("risk") || h.contains("severity"))
                && (h.contains("host") || h.contains("ip address")) =>
        {
            90
        }
        _ => 0,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let csv = read_csv(input, "Tenable CSV")?;
    let c = |n: &[&str]| csv.col(n);
    let plugin = c(&["Plugin ID", "Plugin"]);
    let name = c(&["Name", "Plugin Name"]);
    if plugin.is_none() || name.is_none() {
        return Err(Error::Refused(
            "CSV without Plugin ID and Name columns: not a Tenable export".into(),
        ));
    }
    let host = c(&["Host", "IP Address", "DNS Name"]);
    let ip = c(&["IP Address"]);
    let fqdn = c(&["FQDN", "DNS Name"]);
    let netbios = c(&["NetBios", "NetBIOS Name"]);
    let mac = c(&["MAC Address"]);
    let os = c(&["OS"]);
    let risk = c(&["Risk", "Risk Factor", "Severity"]);
    let (port, proto, cve) = (c(&["Port"]), c(&["Protocol"]), c(&["CVE"]));
    let v2 = c(&[
        "CVSS V2 Base Score",
        "CVSS v2.0 Base Score",
        "CVSS Base Score",
        "CVSS",
    ]);
    let v3 = c(&[
        "CVSS V3 Base Score",
        "CVSS v3.0 Base Score",
        "CVSS3 Base Score",
        "CVSSv3",
    ]);
    let v2v = c(&["CVSS V2 Vector", "CVSS Vector"]);
    let v3v = c(&["CVSS V3 Vector", "CVSS3 Vector"]);
    let (syn, desc, sol, see, output) = (
        c(&["Synopsis"]),
        c(&["Description"]),
        c(&["Solution"]),
        c(&["See Also"]),
        c(&["Plugin Output", "Plugin Text"]),
    );
    let family = c(&["Family", "Plugin Family"]);
    let state = c(&["Vulnerability State"]);
    let mut out = Out::new(emit);
    let mut index: HashMap<(AssetKey, String, Option<u16>, String), usize> = HashMap::new();
    let mut found: Vec<(AssetKey, Exposure)> = Vec::new();
    for (line, row) in &csv.rows {
        let place = format!("line {line}");
        let Some(pid) = csv.get(row, plugin) else {
            out.issue(place, "row without a plugin id")?;
            continue;
        };
        let word = csv.get(row, risk).unwrap_or("");
        let sev = match word {
            "0" => Severity::Info,
            "1" => Severity::Low,
            "2" => Severity::Medium,
            "3" => Severity::High,
            "4" => Severity::Critical,
            w => match Severity::parse(w) {
                Some(s) => s,
                None => {
                    out.issue(place, format!("unknown risk {w:?}"))?;
                    continue;
                }
            },
        };
        if sev == Severity::Info || matches!(csv.get(row, state), Some("Fixed")) {
            continue;
        }
        let h = csv.get(row, host).or(csv.get(row, ip));
        let Some(h) = h else {
            out.issue(place, "row without a host")?;
            continue;
        };
        let mut asset = if h.contains("://") {
            web_asset(h)
        } else {
            host_asset2(csv.get(row, ip).or(Some(h)), csv.get(row, fqdn).or(Some(h)))
        };
        if let Some(n) = csv.get(row, netbios) {
            asset.add_identifier(Identifier::new(IdentifierKind::Hostname, n));
        }
        if let Some(m) = csv.get(row, mac) {
            for m in m.split_whitespace() {
                asset.add_identifier(Identifier::new(IdentifierKind::Mac, m));
            }
        }
        asset.os = csv.get(row, os).map(str::to_string);
        let key = out.asset(asset)?;
        let p: Option<u16> = csv
            .get(row, port)
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0);
        let pr = csv.get(row, proto).unwrap_or("").to_ascii_lowercase();
        let k = (key, pid.to_string(), p, pr.clone());
        let e = match index.get(&k) {
            Some(i) => &mut found[*i].1,
            None => {
                let title = csv.get(row, name).unwrap_or(pid);
                let kind = if csv
                    .get(row, family)
                    .is_some_and(|f| f.contains("Compliance"))
                {
                    ExposureKind::Misconfiguration
                } else {
                    ExposureKind::Vulnerability
                };
                let mut e = Exposure::new(kind, title, sev);
                e.rule_id = Some(pid.to_string());
                e.port = p;
                e.protocol = Some(pr).filter(|x| !x.is_empty());
                e.description = csv.get(row, desc).or(csv.get(row, syn)).map(str::to_string);
                e.solution = csv.get(row, sol).map(str::to_string);
                e.evidence = csv.get(row, output).map(str::to_string);
                e.references.extend(
                    csv.get(row, see)
                        .unwrap_or("")
                        .split_whitespace()
                        .map(str::to_string),
                );
                for (score, vector, ver) in [(v3, v3v, "3.0"), (v2, v2v, "2.0")] {
                    let s = csv.get(row, score).and_then(|x| x.parse::<f64>().ok());
                    let v = csv
                        .get(row, vector)
                        .map(|x| x.trim_start_matches("CVSS2#").to_string());
                    if s.is_some() || v.is_some() {
                        let ver = if v.as_deref().is_some_and(|v| v.starts_with("CVSS:3.1")) {
                            "3.1"
                        } else {
                            ver
                        };
                        e.cvss.push(Cvss {
                            version: ver.into(),
                            vector: v,
                            score: s,
                            source: Some("tenable".into()),
                        });
                    }
                }
                index.insert(k, found.len());
                found.push((key, e));
                &mut found.last_mut().expect("just pushed").1
            }
        };
        for id in csv.get(row, cve).unwrap_or("").split([',', ' ']) {
            e.add_vuln_id(id);
        }
    }
    for (key, e) in found {
        out.exposure(key, e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Record, parse_bytes};

    #[test]
    fn one_row_per_cve_is_merged_into_one_exposure() {
        let csv = b"Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,Synopsis,Description,Solution,See Also,Plugin Output\n\
            1,CVE-2020-0001,5.0,Medium,10.0.0.1,tcp,443,Weak TLS,s,d,fix,,out\n\
            1,CVE-2020-0002,5.0,Medium,10.0.0.1,tcp,443,Weak TLS,s,d,fix,,out\n\
            2,,0,None,10.0.0.1,tcp,0,Info plugin,s,d,,,\n\
            3,,5.0,Severe,10.0.0.1,tcp,80,Bad risk,s,d,,,\n";
        let recs = parse_bytes(&super::FORMAT, csv).expect("parses");
        let exposures: Vec<_> = recs
            .iter()
            .filter_map(|r| match r {
                Record::Exposure { exposure, .. } => Some(exposure),
                _ => None,
            })
            .collect();
        assert_eq!(exposures.len(), 1);
        assert_eq!(exposures[0].cves, vec!["CVE-2020-0001", "CVE-2020-0002"]);
        assert_eq!(exposures[0].port, Some(443));
        let issues: Vec<_> = recs
            .iter()
            .filter(|r| matches!(r, Record::Issue(_)))
            .collect();
        assert_eq!(
            issues.len(),
            1,
            "the unknown risk word is an issue: {issues:?}"
        );
    }
}
