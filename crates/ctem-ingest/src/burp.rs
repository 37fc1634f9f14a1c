//! Burp Suite: the XML issue export of Burp Pro (`<issues burpVersion=...>`, requests and
//! responses base64 or plain), the Burp REST API / Enterprise scan JSON (`issue_events`) and
//! Burp Dastardly's JUnit XML (each `<failure>` is an issue; passing test cases are not).
//! Each host is a web application asset named by its origin; each issue is one exposure at
//! its path (Burp reports one issue per path, so a finding on many paths is many
//! exposures), with the Burp issue type as rule id, CWEs from the vulnerability
//! classifications, and the first request line of the first request/response pair as
//! evidence. Severity `information` is info; `false positive` issues are left out.

use std::io::BufRead;

use ctem_model::{Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{
    Node, Out, arr, has, http_first_line, is_json, read_all, s, st, strip_html, web_asset, xml_root,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "burp",
    kind: FormatKind::Scanner,
    description: "Burp Suite XML issue export and REST API scan JSON",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0"?><issues burpVersion="2023.10.1" exportTime="Mon Jan 01 00:00:00 UTC 2024"></issues>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if xml_root(head).as_deref() == Some("issues") && crate::common::contains(head, "burpVersion") {
        return 95;
    }
    if is_json(head) && has(head, "issue_events") {
        return 90;
    }
    if xml_root(head).as_deref() == Some("testsuites") && crate::common::contains(head, "Dastardly")
    {
        return 95;
    }
    0
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "Burp")?;
    let body = crate::trim_ascii_bom(&buf);
    let mut out = Out::new(emit);
    if body.starts_with(b"<") {
        let mut r = body;
        let root = crate::common::read_xml(&mut r)?;
        if root.name == "testsuites" {
            return dastardly(&mut out, &root);
        }
        if root.name != "issues" {
            return Err(Error::Refused(format!(
                "not a Burp issue export: root element is <{}>",
                root.name
            )));
        }
        for (i, issue) in root.all("issue").enumerate() {
            xml_issue(&mut out, issue, &format!("issue[{i}]"))?;
        }
        return Ok(());
    }
    let doc: Value = serde_json::from_slice(body).map_err(Error::json)?;
    let Some(events) = doc.get("issue_events").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `issue_events`: not a Burp scan JSON".into(),
        ));
    };
    for (i, ev) in events.iter().enumerate() {
        let place = format!("issue_events[{i}]");
        let is = &ev["issue"];
        let (Some(name), Some(origin)) = (s(is, &["name"]), s(is, &["origin"])) else {
            out.issue(place, "issue without name or origin")?;
            continue;
        };
        let Some(sev) = sev(s(is, &["severity"])) else {
            if s(is, &["severity"]).is_some_and(|w| w.contains("false")) {
                continue;
            }
            out.issue(
                place,
                format!("unknown severity {:?}", s(is, &["severity"])),
            )?;
            continue;
        };
        let key = out.asset(web_asset(origin))?;
        let mut e = Exposure::new(ExposureKind::Vulnerability, name, sev);
        e.rule_id = st(is, &["type_index"]);
        e.location = Some(Location {
            path: Some(s(is, &["path"]).unwrap_or("/").to_string()),
            line: None,
            resource: None,
        });
        e.tool_key = st(is, &["serial_number"]);
        e.description = s(is, &["description"])
            .or(s(is, &["issue_background"]))
            .map(strip_html);
        e.solution = s(is, &["remediation"])
            .or(s(is, &["remediation_background"]))
            .map(strip_html);
        let first_req = arr(is, "evidence").iter().find_map(|ev| {
            arr(&ev["request_response"], "request")
                .iter()
                .find_map(|seg| s(seg, &["data"]).and_then(|d| http_first_line(d, true)))
        });
        e.evidence = first_req;
        out.exposure(key, e)?;
    }
    Ok(())
}

fn sev(w: Option<&str>) -> Option<Severity> {
    match w?.to_ascii_lowercase().as_str() {
        "information" | "info" => Some(Severity::Info),
        "false positive" => None,
        x => Severity::parse(x),
    }
}

fn xml_issue(out: &mut Out<'_, '_>, issue: &Node, place: &str) -> Result<()> {
    let (Some(name), Some(host)) = (issue.text_of("name"), issue.text_of("host")) else {
        return out.issue(place, "issue without name or host");
    };
    let Some(sv) = sev(issue.text_of("severity")) else {
        if issue
            .text_of("severity")
            .is_some_and(|w| w.eq_ignore_ascii_case("false positive"))
        {
            return Ok(());
        }
        return out.issue(
            place,
            format!("unknown severity {:?}", issue.text_of("severity")),
        );
    };
    let mut asset = web_asset(host);
    if let Some(ip) = issue
        .child("host")
        .and_then(|h| h.attr("ip"))
        .and_then(ctem_model::Identifier::ip)
    {
        asset.add_identifier(ip);
    }
    let key = out.asset(asset)?;
    let mut e = Exposure::new(ExposureKind::Vulnerability, name, sv);
    e.rule_id = issue.text_of("type").map(str::to_string);
    e.location = Some(Location {
        path: Some(issue.text_of("path").unwrap_or("/").to_string()),
        line: None,
        resource: issue.text_of("location").map(str::to_string),
    });
    e.tool_key = issue.text_of("serialNumber").map(str::to_string);
    if let Some(vc) = issue.text_of("vulnerabilityClassifications") {
        for part in vc.split("CWE-").skip(1) {
            let n: String = part.chars().take_while(char::is_ascii_digit).collect();
            e.add_cwe(&n);
        }
    }
    e.description = issue
        .text_of("issueDetail")
        .or(issue.text_of("issueBackground"))
        .map(strip_html);
    e.solution = issue
        .text_of("remediationDetail")
        .or(issue.text_of("remediationBackground"))
        .map(strip_html);
    e.references = issue
        .text_of("references")
        .map(|r| {
            r.split('"')
                .filter(|x| x.starts_with("http"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    e.evidence = issue
        .child("requestresponse")
        .and_then(|rr| rr.child("request"))
        .and_then(|rq| http_first_line(&rq.text, rq.attr("base64") == Some("true")));
    out.exposure(key, e)
}

/// Dastardly: `testsuites/testsuite/testcase/failure` with `type` = severity and a text body
/// of `Key: value` lines (`Host:`, `Path:`) and an `Issue Detail` section.
fn dastardly(out: &mut Out<'_, '_>, root: &Node) -> Result<()> {
    for (si, suite) in root.all("testsuite").enumerate() {
        for (ci, case) in suite.all("testcase").enumerate() {
            let Some(f) = case.child("failure") else {
                continue;
            };
            let place = format!("testsuite[{si}].testcase[{ci}]");
            let body = f.text.as_str();
            let field = |k: &str| {
                body.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let Some(host) = field("Host:").or(suite.attr("name")) else {
                out.issue(place, "failure without a host")?;
                continue;
            };
            let Some(sv) = sev(f.attr("type").or(field("Severity:"))) else {
                out.issue(place, format!("unknown severity {:?}", f.attr("type")))?;
                continue;
            };
            let name = case.attr("name").unwrap_or("dastardly issue");
            let key = out.asset(web_asset(host))?;
            let mut e = Exposure::new(ExposureKind::Vulnerability, name, sv);
            e.rule_id = Some(name.to_string());
            e.location = Some(Location {
                path: Some(field("Path:").unwrap_or("/").to_string()),
                line: None,
                resource: None,
            });
            e.description = body
                .split("Issue Detail")
                .nth(1)
                .and_then(|d| d.trim().split("\n\n").next())
                .map(str::to_string);
            e.evidence = f.attr("message").map(str::to_string);
            for part in body.split("CWE-").skip(1) {
                let n: String = part.chars().take_while(char::is_ascii_digit).collect();
                e.add_cwe(&n);
            }
            out.exposure(key, e)?;
        }
    }
    Ok(())
}
