//! OWASP ZAP reports: the traditional XML report (`<OWASPZAPReport>`, 2.x, including the
//! "XML plus" variant) and the traditional JSON report (`{"site": [...]}`). Each site is a
//! web application asset named by its origin; each alert of a site is one exposure (the
//! plugin id is the rule id) with its instances (method, URI, parameter, evidence) listed in
//! the evidence, so an alert found on many URLs of one site is one exposure on that site, as
//! ZAP groups it; the same alert on two sites is two exposures. Risk codes 0-3 map to info,
//! low, medium, high; ZAP's "false positive" confidence (0) is left out.

use std::io::BufRead;

use ctem_model::{Exposure, ExposureKind, Severity};
use serde_json::Value;

use crate::common::{
    Out, has, is_json, read_all, s, st, strip_html, web_asset, xml_root, xml_to_json,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "zap",
    kind: FormatKind::Scanner,
    description: "OWASP ZAP traditional XML and JSON reports",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0"?><OWASPZAPReport version="2.9.0" generated="Tue, 12 May 2020 20:59:12"><site name="https://example.com" host="example.com" port="443" ssl="true"><alerts></alerts></site></OWASPZAPReport>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if xml_root(head).as_deref() == Some("OWASPZAPReport") {
        return 95;
    }
    if is_json(head)
        && has(head, "site")
        && (has(head, "@programName") || has(head, "alerts") || has(head, "@version"))
    {
        return 90;
    }
    0
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "ZAP")?;
    let body = crate::trim_ascii_bom(&buf);
    let doc: Value = if body.starts_with(b"<") {
        let mut r = body;
        let root = crate::common::read_xml(&mut r)?;
        if root.name != "OWASPZAPReport" {
            return Err(Error::Refused(format!(
                "not a ZAP report: root element is <{}>",
                root.name
            )));
        }
        xml_to_json(&root)
    } else {
        serde_json::from_slice(body).map_err(Error::json)?
    };
    let sites: Vec<&Value> = match &doc["site"] {
        Value::Array(a) => a.iter().collect(),
        v @ Value::Object(_) => vec![v],
        Value::Null if doc.is_object() => vec![],
        _ => return Err(Error::Refused("no `site`: not a ZAP report".into())),
    };
    let mut out = Out::new(emit);
    for (si, site) in sites.into_iter().enumerate() {
        let name = s(site, &["@name"])
            .or(s(site, &["name"]))
            .unwrap_or("zap site");
        let alerts: Vec<&Value> = match &site["alerts"] {
            Value::Array(a) => a.iter().collect(),
            Value::Object(m) => match m.get("alertitem") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(v) => vec![v],
                None => vec![],
            },
            _ => vec![],
        };
        if alerts.is_empty() {
            continue;
        }
        let key = out.asset(web_asset(name))?;
        for (ai, a) in alerts.into_iter().enumerate() {
            let place = format!("site[{si}].alerts[{ai}]");
            let Some(plugin) = st(a, &["pluginid"]) else {
                out.issue(place, "alert without pluginid")?;
                continue;
            };
            if st(a, &["confidence"]).as_deref() == Some("0") {
                continue;
            }
            let sev = match st(a, &["riskcode"]).as_deref() {
                Some("0") => Severity::Info,
                Some("1") => Severity::Low,
                Some("2") => Severity::Medium,
                Some("3") => Severity::High,
                other => {
                    out.issue(place, format!("riskcode {other:?} is not 0-3"))?;
                    continue;
                }
            };
            let title = s(a, &["name"])
                .or(s(a, &["alert"]))
                .unwrap_or(&plugin)
                .to_string();
            let mut e = Exposure::new(ExposureKind::Vulnerability, title, sev);
            e.rule_id = Some(plugin.clone());
            if let Some(c) = st(a, &["cweid"]).filter(|c| c != "-1" && c != "0") {
                e.add_cwe(&c);
            }
            e.port = s(site, &["@port"])
                .or(s(site, &["port"]))
                .and_then(|p| p.parse().ok());
            e.description = s(a, &["desc"]).map(strip_html);
            e.solution = s(a, &["solution"]).map(strip_html);
            e.references = s(a, &["reference"])
                .map(|r| strip_html(&r.replace("</p><p>", " ")))
                .unwrap_or_default()
                .split_whitespace()
                .filter(|r| r.starts_with("http"))
                .map(str::to_string)
                .collect();
            let inst: Vec<String> = list(&a["instances"])
                .iter()
                .map(|i| {
                    let parts: Vec<String> = ["method", "uri", "param", "evidence"]
                        .iter()
                        .filter_map(|k| s(i, &[k]))
                        .map(str::to_string)
                        .collect();
                    parts.join(" ")
                })
                .filter(|x| !x.is_empty())
                .collect();
            e.evidence = (!inst.is_empty()).then(|| inst.join("\n"));
            out.exposure(key, e)?;
        }
    }
    Ok(())
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(m) => match m.get("instance") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(x) => vec![x],
            None => vec![v],
        },
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use crate::{Record, detect, parse_bytes};

    #[test]
    fn traditional_json_report_reads_like_the_xml_one() {
        let doc = br#"{"@programName":"ZAP","@version":"2.14.0","site":[{"@name":"https://app.example","@host":"app.example","@port":"443","@ssl":"true",
          "alerts":[{"pluginid":"10038","alertRef":"10038-1","alert":"CSP Header Not Set","name":"CSP Header Not Set","riskcode":"2","confidence":"3",
            "desc":"<p>No CSP</p>","instances":[{"uri":"https://app.example/","method":"GET","param":"","evidence":""},
            {"uri":"https://app.example/login","method":"GET"}],"count":"2","solution":"<p>Set it</p>","cweid":"693","wascid":"15"},
           {"pluginid":"10096","alert":"Timestamp Disclosure","riskcode":"0","confidence":"0","instances":[]}]}]}"#;
        assert_eq!(detect(doc, "report.json").expect("detected").name, "zap");
        let recs = parse_bytes(&super::FORMAT, doc).expect("parses");
        let exposures: Vec<_> = recs
            .iter()
            .filter_map(|r| match r {
                Record::Exposure { exposure, .. } => Some(exposure),
                _ => None,
            })
            .collect();
        assert_eq!(
            exposures.len(),
            1,
            "the false positive (confidence 0) is left out"
        );
        let e = exposures[0];
        assert_eq!(e.severity, ctem_model::Severity::Medium);
        assert_eq!((e.rule_id.as_deref(), e.port), (Some("10038"), Some(443)));
        assert_eq!(e.cwes, vec!["CWE-693"]);
        assert_eq!(e.description.as_deref(), Some("No CSP"));
        assert_eq!(e.evidence.as_deref().map(|x| x.lines().count()), Some(2));
    }
}
