//! Nuclei results, JSON lines (`-jsonl`, older `-json`) or one JSON array (`-json-export`).
//! Each result's host is the asset: a web application named by the origin of `host` /
//! `matched-at` for HTTP results, else a host by `ip` / host name. Each result is one
//! exposure: the template id is the rule id, the matched URL (or `host:port`) is the
//! location resource so one template matching two URLs gives two exposures, and CVE, CWE and
//! CVSS come from `info.classification`. Severity from `info.severity` (`info` kept: Nuclei
//! technology detections are what users asked for).

use std::io::BufRead;

use ctem_model::{Asset, Exposure, ExposureKind, Location};
use serde_json::Value;

use crate::common::{
    Out, cvss, has, host_asset2, is_json, num, read_json_or_lines, s, severity, web_asset,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "nuclei",
    kind: FormatKind::Scanner,
    description: "Nuclei JSON lines and JSON export",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: true,
        null: false,
        empty_array: true,
        example: r#""#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head) && (has(head, "template-id") || has(head, "templateID")) && has(head, "info") {
        92
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json_or_lines(input, "Nuclei")?;
    let items: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&doc],
        _ => return Err(Error::Refused("not Nuclei results".into())),
    };
    let mut out = Out::new(emit);
    for (i, r) in items.into_iter().enumerate() {
        let place = format!("results[{i}]");
        let Some(tid) = s(r, &["template-id"]).or(s(r, &["templateID"])) else {
            out.issue(place, "result without template-id")?;
            continue;
        };
        let info = &r["info"];
        let sev = match severity(s(info, &["severity"])) {
            Ok(x) => x,
            Err(m) => {
                out.issue(place, m)?;
                continue;
            }
        };
        let host = s(r, &["host"]);
        let matched = s(r, &["matched-at"]).or(s(r, &["matched"]));
        let key = out.asset(asset(r, host, matched))?;
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            s(info, &["name"]).unwrap_or(tid),
            sev,
        );
        e.rule_id = Some(tid.to_string());
        let cls = &info["classification"];
        for id in strings(&cls["cve-id"]) {
            e.add_vuln_id(&id);
        }
        for id in strings(&cls["cwe-id"]) {
            e.add_cwe(&id);
        }
        e.cvss.extend(cvss(
            s(cls, &["cvss-metrics"]),
            num(cls, "cvss-score"),
            "nuclei",
        ));
        let tags = strings(&info["tags"]);
        if tags
            .iter()
            .any(|t| t == "misconfig" || t == "config" || t == "exposure")
            && e.cves.is_empty()
        {
            e.kind = ExposureKind::Misconfiguration;
        }
        if tags.iter().any(|t| t == "default-login") {
            e.kind = ExposureKind::WeakCredential;
        }
        let port = matched
            .and_then(|m| m.rsplit(':').next())
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok());
        e.port = s(r, &["port"]).and_then(|p| p.parse().ok()).or(port);
        let resource = match s(r, &["matcher-name"]) {
            Some(m) => format!("{}#{m}", matched.unwrap_or("")),
            None => matched.unwrap_or("").to_string(),
        };
        e.location = Some(Location {
            path: None,
            line: None,
            resource: Some(resource),
        });
        e.description = s(info, &["description"]).map(str::to_string);
        e.solution = s(info, &["remediation"]).map(str::to_string);
        let extracted = strings(&r["extracted-results"]);
        if !extracted.is_empty() {
            e.evidence = Some(extracted.join("\n"));
        }
        e.references = strings(&info["reference"])
            .into_iter()
            .flat_map(|r| {
                r.lines()
                    .map(|l| l.trim_start_matches("- ").trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|r| !r.is_empty())
            .collect();
        e.first_seen = crate::common::time(s(r, &["timestamp"]));
        out.exposure(key, e)?;
    }
    Ok(())
}

fn asset(r: &Value, host: Option<&str>, matched: Option<&str>) -> Asset {
    let http = s(r, &["type"]).is_none_or(|t| t == "http")
        && host.or(matched).is_some_and(|h| h.contains("://"));
    if http {
        return web_asset(host.or(matched).unwrap_or(""));
    }
    let name = host.map(crate::common::origin).map(|o| {
        let o = o.split("://").last().unwrap_or(&o).to_string();
        o.rsplit_once(':')
            .filter(|(_, p)| p.parse::<u16>().is_ok())
            .map(|(h, _)| h.to_string())
            .unwrap_or(o)
    });
    host_asset2(s(r, &["ip"]), name.as_deref())
}

/// A string or an array of strings (nuclei changed several fields from one to the other);
/// comma-separated strings are split.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}
