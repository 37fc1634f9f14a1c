//! Qualys VM: the scan XML (`<SCAN>`, infrastructure scan from the web GUI), the asset data
//! report XML (`<ASSET_DATA_REPORT>`, host list plus a glossary of QIDs), the Qualys WAS scan
//! report XML (`<WAS_SCAN_REPORT>`: each vulnerability's URL origin is a web application
//! asset, joined with the QID glossary; ignored findings left out), the scan CSV
//! export, the PCI CSV export and the VMDR "Asset Vuln Datalist" CSV (QID or CVE based,
//! with a three-line preamble). Qualys XML names an external DTD; it is never fetched, and a
//! DOCTYPE with an internal subset is still refused by the safe reader.
//!
//! Each host (IP, DNS / FQDN, NetBIOS name, OS) is an asset; each confirmed or potential
//! vulnerability (information-gathered QIDs and fixed detections are left out) is an exposure
//! with the QID as rule id, port and protocol, CVEs, and severity 1-5 mapped to info, low,
//! medium, high, critical. One row or element per host and QID, so a QID found on many hosts
//! is one exposure per host.

use std::collections::HashMap;
use std::io::BufRead;

use ctem_model::{Cvss, Exposure, ExposureKind, Severity};

use crate::common::{Csv, Node, Out, csv_header, host_asset2, read_all, xml_root};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "qualys",
    kind: FormatKind::Scanner,
    description: "Qualys VM scan XML, asset data report XML, scan / PCI / VMDR CSV exports",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0"?><ASSET_DATA_REPORT><HEADER/><HOST_LIST/></ASSET_DATA_REPORT>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if let Some(r) = xml_root(head) {
        return match r.as_str() {
            "ASSET_DATA_REPORT" | "WAS_SCAN_REPORT" => 95,
            "SCAN"
                if crate::common::contains(head, "qualys")
                    || crate::common::contains(head, "value=\"scan/") =>
            {
                95
            }
            _ => 0,
        };
    }
    let h = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    if h.starts_with(b"\"Asset Vuln Datalist Report\"") {
        return 95;
    }
    match csv_header(head) {
        Some(h) if h.contains("qid") && (h.contains("title") || h.contains("vuln title")) => 90,
        _ => 0,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let mut buf = read_all(input, "Qualys")?;
    let mut out = Out::new(emit);
    out.scan(Some("qualys"))?;
    if crate::trim_ascii_bom(&buf).starts_with(b"<") {
        crate::common::blank_external_doctype(&mut buf);
        let mut r: &[u8] = &buf;
        let root = crate::common::read_xml(&mut r)?;
        return match root.name.as_str() {
            "SCAN" => scan_xml(&mut out, &root),
            "ASSET_DATA_REPORT" => asset_report(&mut out, &root),
            "WAS_SCAN_REPORT" => was_report(&mut out, &root),
            other => Err(Error::Refused(format!(
                "not a Qualys VM report: root element is <{other}>"
            ))),
        };
    }
    let mut r: &[u8] = &buf;
    let csv = crate::common::read_csv_after(&mut r, "Qualys", "\"QID\"")?;
    csv_rows(&mut out, &csv)
}

fn sev(n: Option<&str>) -> std::result::Result<Severity, String> {
    let n = n.unwrap_or("").trim();
    match n {
        "1" => Ok(Severity::Info),
        "2" => Ok(Severity::Low),
        "3" => Ok(Severity::Medium),
        "4" => Ok(Severity::High),
        "5" => Ok(Severity::Critical),
        w => Severity::parse(w).ok_or_else(|| format!("severity {w:?} is not 1-5")),
    }
}

fn cvss_of(e: &mut Exposure, v2: Option<&str>, v3: Option<&str>) {
    // "8.1 (AV:N/AC:H/...)" or a bare score
    for (val, ver) in [(v3, "3.1"), (v2, "2.0")] {
        let Some(v) = val.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let (score, vector) = match v.split_once(" (") {
            Some((s, vec)) => (s.parse().ok(), Some(vec.trim_end_matches(')').to_string())),
            None => (v.parse().ok(), None),
        };
        if score.is_some() {
            e.cvss.push(Cvss {
                version: ver.into(),
                vector,
                score,
                source: Some("qualys".into()),
            });
        }
    }
}

fn scan_xml(out: &mut Out<'_, '_>, root: &Node) -> Result<()> {
    for (hi, ip) in root.all("IP").enumerate() {
        let mut asset = host_asset2(
            ip.attr("value"),
            ip.attr("name").filter(|n| *n != "No registered hostname"),
        );
        asset.os = ip.text_of("OS").map(str::to_string);
        let key = out.asset(asset)?;
        for (group, item) in [("VULNS", "VULN"), ("PRACTICES", "PRACTICE")] {
            for cat in ip.child(group).into_iter().flat_map(|g| g.all("CAT")) {
                for (vi, v) in cat.all(item).enumerate() {
                    let place = format!("IP[{hi}].{group}.{item}[{vi}]");
                    let Some(qid) = v.attr("number") else {
                        out.issue(place, "vulnerability without number (QID)")?;
                        continue;
                    };
                    let s = match sev(v.attr("severity")) {
                        Ok(s) => s,
                        Err(m) => {
                            out.issue(place, m)?;
                            continue;
                        }
                    };
                    let mut e = Exposure::new(
                        ExposureKind::Vulnerability,
                        v.text_of("TITLE").unwrap_or(qid),
                        s,
                    );
                    e.rule_id = Some(qid.to_string());
                    e.port = cat.attr("port").and_then(|p| p.parse().ok());
                    e.protocol = cat.attr("protocol").map(str::to_ascii_lowercase);
                    for c in v.attr("cveid").unwrap_or("").split(',') {
                        e.add_vuln_id(c);
                    }
                    cvss_of(&mut e, v.text_of("CVSS_BASE"), v.text_of("CVSS3_BASE"));
                    e.description = v.text_of("DIAGNOSIS").map(str::to_string);
                    e.solution = v.text_of("SOLUTION").map(str::to_string);
                    e.evidence = v.text_of("RESULT").map(str::to_string);
                    out.exposure(key, e)?;
                }
            }
        }
    }
    Ok(())
}

fn asset_report(out: &mut Out<'_, '_>, root: &Node) -> Result<()> {
    let mut glossary: HashMap<&str, &Node> = HashMap::new();
    let mut details = Vec::new();
    root.find_all("VULN_DETAILS", &mut details);
    for d in details {
        if let Some(id) = d.attr("id").or(d.text_of("QID")) {
            glossary.insert(id.trim_start_matches("qid_"), d);
        }
    }
    let mut hosts = Vec::new();
    root.find_all("HOST", &mut hosts);
    for (hi, h) in hosts.iter().enumerate() {
        let mut asset = host_asset2(h.text_of("IP"), h.text_of("DNS").or(h.text_of("NETBIOS")));
        asset.os = h.text_of("OPERATING_SYSTEM").map(str::to_string);
        let key = out.asset(asset)?;
        for (vi, v) in h
            .child("VULN_INFO_LIST")
            .into_iter()
            .flat_map(|l| l.all("VULN_INFO"))
            .enumerate()
        {
            let place = format!("HOST[{hi}].VULN_INFO[{vi}]");
            let qid_node = v.child("QID");
            let Some(qid) = qid_node
                .and_then(|q| q.attr("id"))
                .or(v.text_of("QID"))
                .map(|q| q.trim_start_matches("qid_"))
            else {
                out.issue(place, "VULN_INFO without QID")?;
                continue;
            };
            if matches!(v.text_of("TYPE"), Some("Ig" | "Info"))
                || v.text_of("VULN_STATUS") == Some("Fixed")
            {
                continue;
            }
            let d = glossary.get(qid).copied();
            let s = match sev(d.and_then(|d| d.text_of("SEVERITY"))) {
                Ok(s) => s,
                Err(m) => {
                    out.issue(place, m)?;
                    continue;
                }
            };
            let mut e = Exposure::new(
                ExposureKind::Vulnerability,
                d.and_then(|d| d.text_of("TITLE")).unwrap_or(qid),
                s,
            );
            e.rule_id = Some(qid.to_string());
            e.port = v.text_of("PORT").and_then(|p| p.parse().ok());
            e.protocol = v.text_of("PROTOCOL").map(str::to_ascii_lowercase);
            if let Some(d) = d {
                let mut ids = Vec::new();
                d.find_all("ID", &mut ids);
                for id in ids {
                    if id.text.trim().starts_with("CVE-") {
                        e.add_vuln_id(id.text.trim());
                    }
                }
                cvss_of(
                    &mut e,
                    d.at(&["CVSS_SCORE", "CVSS_BASE"]),
                    d.at(&["CVSS3_SCORE", "CVSS3_BASE"]),
                );
                e.description = d.text_of("THREAT").map(str::to_string);
                e.solution = d.text_of("SOLUTION").map(str::to_string);
            }
            e.evidence = v.text_of("RESULT").map(str::to_string);
            out.exposure(key, e)?;
        }
    }
    Ok(())
}

fn csv_rows(out: &mut Out<'_, '_>, csv: &Csv) -> Result<()> {
    let c = |n: &[&str]| csv.col(n);
    let qid = c(&["QID"]);
    if qid.is_none() {
        return Err(Error::Refused(
            "CSV without a QID column: not a Qualys export".into(),
        ));
    }
    let ip = c(&["IP", "Asset IPV4", "Asset IPV6"]);
    let name = c(&["FQDN", "DNS", "HOSTNAME", "Asset Name", "NetBIOS"]);
    let title = c(&["Title", "VULN TITLE"]);
    let sevc = c(&["Severity", "Q_SEVERITY", "SEVERITY"]);
    let (port, proto, typ, status) = (
        c(&["Port"]),
        c(&["Protocol"]),
        c(&["Type", "Type Detected"]),
        c(&["Vuln Status", "Status"]),
    );
    let cve = c(&["CVE ID", "CVEID", "CVE"]);
    let (v3, v2) = (
        c(&["CVSS3 Base", "CVSSv3.1 Base (nvd)", "CVSS3.1 Base"]),
        c(&["CVSS Base", "CVSS_BASE", "CVSSv2 Base (nvd)"]),
    );
    let (threat, sol, res, os) = (
        c(&["Threat", "THREAT"]),
        c(&["Solution", "SOLUTION"]),
        c(&["Results", "RESULT"]),
        c(&["OS", "Operating System", "OPERATING SYSTEM"]),
    );
    let qsev = c(&["Q_SEVERITY"]);
    for (line, row) in &csv.rows {
        let place = format!("line {line}");
        let Some(q) = csv.get(row, qid) else {
            out.issue(place, "row without QID")?;
            continue;
        };
        if matches!(
            csv.get(row, typ).map(str::to_ascii_lowercase).as_deref(),
            Some("ig" | "info" | "information gathered")
        ) || matches!(csv.get(row, status), Some("Fixed"))
        {
            continue;
        }
        let s = match sev(csv.get(row, qsev).or(csv.get(row, sevc))) {
            Ok(s) => s,
            Err(m) => {
                out.issue(place, m)?;
                continue;
            }
        };
        let hostname = csv.get(row, name);
        if csv.get(row, ip).is_none() && hostname.is_none() {
            out.issue(place, "row without IP or host name")?;
            continue;
        }
        let mut asset = host_asset2(csv.get(row, ip), hostname);
        asset.os = csv.get(row, os).map(str::to_string);
        let key = out.asset(asset)?;
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            csv.get(row, title).unwrap_or(q),
            s,
        );
        e.rule_id = Some(q.to_string());
        e.port = csv.get(row, port).and_then(|p| p.parse().ok());
        e.protocol = csv.get(row, proto).map(str::to_ascii_lowercase);
        for id in csv.get(row, cve).unwrap_or("").split([',', ' ']) {
            if id.trim().starts_with("CVE-") {
                e.add_vuln_id(id);
            }
        }
        cvss_of(&mut e, csv.get(row, v2), csv.get(row, v3));
        e.description = csv.get(row, threat).map(str::to_string);
        e.solution = csv.get(row, sol).map(str::to_string);
        e.evidence = csv.get(row, res).map(str::to_string);
        out.exposure(key, e)?;
    }
    Ok(())
}

fn was_report(out: &mut Out<'_, '_>, root: &Node) -> Result<()> {
    let mut glossary: HashMap<&str, &Node> = HashMap::new();
    for q in root
        .child("GLOSSARY")
        .and_then(|g| g.child("QID_LIST"))
        .into_iter()
        .flat_map(|l| l.all("QID"))
    {
        if let Some(id) = q.text_of("QID") {
            glossary.insert(id, q);
        }
    }
    let list = root
        .child("RESULTS")
        .and_then(|r| r.child("VULNERABILITY_LIST"));
    for (i, v) in list
        .into_iter()
        .flat_map(|l| l.all("VULNERABILITY"))
        .enumerate()
    {
        let place = format!("RESULTS.VULNERABILITY_LIST.VULNERABILITY[{i}]");
        if v.text_of("IGNORED") == Some("true") {
            continue;
        }
        let (Some(qid), Some(url)) = (v.text_of("QID"), v.text_of("URL")) else {
            out.issue(place, "vulnerability without QID or URL")?;
            continue;
        };
        let d = glossary.get(qid).copied();
        let s = match sev(d.and_then(|d| d.text_of("SEVERITY"))) {
            Ok(s) => s,
            Err(m) => {
                out.issue(place, m)?;
                continue;
            }
        };
        let key = out.asset(crate::common::web_asset(url))?;
        let title = d.and_then(|d| d.text_of("TITLE")).unwrap_or(qid);
        let mut e = Exposure::new(ExposureKind::Vulnerability, title, s);
        e.rule_id = Some(qid.to_string());
        let path = url
            .split("://")
            .nth(1)
            .and_then(|r| r.find('/').map(|i| &r[i..]))
            .unwrap_or("/");
        e.location = Some(ctem_model::Location {
            path: Some(path.to_string()),
            line: None,
            resource: v.text_of("PARAM").map(str::to_string),
        });
        if let Some(d) = d {
            if let Some(c) = d.text_of("CWE") {
                e.add_cwe(c);
            }
            cvss_of(&mut e, d.text_of("CVSS_BASE"), d.text_of("CVSS_V3_BASE"));
            e.description = d.text_of("DESCRIPTION").map(crate::common::strip_html);
            e.solution = d.text_of("SOLUTION").map(crate::common::strip_html);
        }
        e.evidence = Some(url.to_string());
        out.exposure(key, e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Record, parse_bytes};

    #[test]
    fn external_dtd_reference_is_blanked_but_entities_stay_refused() {
        let ok = br#"<?xml version="1.0"?>
<!DOCTYPE SCAN SYSTEM "https://qualysguard.qualys.com/scan-1.dtd">
<SCAN value="scan/1"><IP value="10.0.0.1" name="h.example"><VULNS><CAT value="TCP/IP" port="22" protocol="tcp">
<VULN number="38739" severity="3" cveid="CVE-2008-5161"><TITLE>SSH CBC</TITLE></VULN></CAT></VULNS></IP></SCAN>"#;
        let recs = parse_bytes(&super::FORMAT, ok).expect("parses");
        let e = recs
            .iter()
            .find_map(|r| match r {
                Record::Exposure { exposure, .. } => Some(exposure),
                _ => None,
            })
            .expect("exposure");
        assert_eq!((e.rule_id.as_deref(), e.port), (Some("38739"), Some(22)));
        assert_eq!(e.severity, ctem_model::Severity::Medium);
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE SCAN [<!ENTITY x SYSTEM "file:///etc/passwd">]><SCAN value="scan/1"><IP value="&x;"/></SCAN>"#;
        let err = parse_bytes(&super::FORMAT, xxe).expect_err("refused");
        assert!(err.to_string().contains("XXE"), "{err}");
    }
}
