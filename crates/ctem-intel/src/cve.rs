//! CVE records: CVE JSON 5.x (cvelistV5) and NVD API 2.0 responses.
//!
//! Both are read through `serde_json::Value`: records are small, the two schemas nest CVSS
//! differently, and a loose read lets one odd field become an issue instead of losing the file.
//! Every CVSS metric of every version is kept with who scored it (CNA, ADP, NVD).

use crate::error::{Error, Result};
use crate::util::{Issue, Parsed, maybe_gunzip, parse_time};
use ctem_model::intel::{CveRecord, CvssMetric, Description};
use serde_json::Value;

const FORMAT: &str = "cve";

/// `CVE-YYYY-NNNN...` (upper-case, at least four digits in the sequence part).
pub fn is_cve_id(s: &str) -> bool {
    ctem_model::is_cve_id(s)
}

/// Which of the two layouts a document uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CveLayout {
    /// `{"dataType": "CVE_RECORD", "cveMetadata": ..., "containers": ...}`
    Cve5,
    /// `{"vulnerabilities": [{"cve": ...}]}` or one `{"cve": ...}`
    Nvd,
}

/// Which layout a parsed JSON value has, if any.
pub fn layout(v: &Value) -> Option<CveLayout> {
    let first = match v {
        Value::Array(a) => a.first()?,
        other => other,
    };
    if first.get("cveMetadata").is_some() {
        Some(CveLayout::Cve5)
    } else if first
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .is_some_and(|a| a.first().is_none_or(|x| x.get("cve").is_some()))
        || first.get("cve").and_then(|c| c.get("id")).is_some()
    {
        Some(CveLayout::Nvd)
    } else {
        None
    }
}

/// Parses CVE JSON 5.x records (one, or an array) or an NVD API 2.0 response.
pub fn parse_cve(bytes: &[u8]) -> Result<Parsed<CveRecord>> {
    let bytes = maybe_gunzip(bytes)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::json(FORMAT, &e))?;
    let mut out = Parsed::default();
    match layout(&v) {
        Some(CveLayout::Cve5) => {
            let items: Vec<&Value> = match &v {
                Value::Array(a) => a.iter().collect(),
                one => vec![one],
            };
            for (i, item) in items.into_iter().enumerate() {
                match cve5(item) {
                    Ok(r) => out.records.push(r),
                    Err(m) => out.issues.push(Issue::new(format!("[{i}]"), m)),
                }
            }
        }
        Some(CveLayout::Nvd) => {
            let items: Vec<&Value> = match v.get("vulnerabilities").and_then(Value::as_array) {
                Some(a) => a.iter().filter_map(|x| x.get("cve")).collect(),
                None => v.get("cve").into_iter().collect(),
            };
            for (i, item) in items.into_iter().enumerate() {
                match nvd(item) {
                    Ok(r) => out.records.push(r),
                    Err(m) => out
                        .issues
                        .push(Issue::new(format!("vulnerabilities[{i}].cve"), m)),
                }
            }
        }
        None => {
            return Err(Error::field(
                FORMAT,
                "cveMetadata",
                "missing: neither a CVE JSON 5 record nor an NVD API 2.0 response",
            ));
        }
    }
    Ok(out)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |cur, k| cur.get(*k))
        .and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn push_cwe(cwes: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if s.len() > 4 && s[..4].eq_ignore_ascii_case("CWE-") && !cwes.iter().any(|c| c == s) {
        cwes.push(s.to_string());
    }
}

fn descriptions(list: &[Value]) -> Vec<Description> {
    list.iter()
        .filter_map(|d| {
            Some(Description {
                lang: d
                    .get("lang")
                    .and_then(Value::as_str)
                    .unwrap_or("en")
                    .to_string(),
                value: d.get("value").and_then(Value::as_str)?.to_string(),
            })
        })
        .collect()
}

fn metric(data: &Value, source: &str, fallback_version: &str) -> Option<CvssMetric> {
    let vector = data.get("vectorString").and_then(Value::as_str)?;
    let version = data
        .get("version")
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_f64().map(|f| format!("{f:.1}")))
        })
        .unwrap_or_else(|| fallback_version.to_string());
    Some(CvssMetric {
        version,
        vector: vector.to_string(),
        base_score: data.get("baseScore").and_then(Value::as_f64),
        severity: data
            .get("baseSeverity")
            .and_then(Value::as_str)
            .map(str::to_string),
        source: source.to_string(),
    })
}

const CVE5_METRICS: [(&str, &str); 4] = [
    ("cvssV4_0", "4.0"),
    ("cvssV3_1", "3.1"),
    ("cvssV3_0", "3.0"),
    ("cvssV2_0", "2.0"),
];

fn cve5_container(c: &Value, default_source: &str, rec: &mut CveRecord) {
    let source = str_at(c, &["providerMetadata", "shortName"]).unwrap_or(default_source);
    for m in arr(c, "metrics") {
        for (key, version) in CVE5_METRICS {
            if let Some(metric) = m.get(key).and_then(|d| metric(d, source, version)) {
                rec.cvss.push(metric);
            }
        }
    }
    for pt in arr(c, "problemTypes") {
        for d in arr(pt, "descriptions") {
            if let Some(id) = d.get("cweId").and_then(Value::as_str) {
                push_cwe(&mut rec.cwes, id);
            }
        }
    }
}

fn cve5(v: &Value) -> Result<CveRecord, String> {
    let id = str_at(v, &["cveMetadata", "cveId"]).ok_or("missing cveMetadata.cveId")?;
    if !is_cve_id(id) {
        return Err(format!("invalid cveMetadata.cveId `{id}`"));
    }
    let meta = v.get("cveMetadata");
    let cna = v.get("containers").and_then(|c| c.get("cna"));
    let mut rec = CveRecord {
        id: id.to_ascii_uppercase(),
        state: meta
            .and_then(|m| m.get("state"))
            .and_then(Value::as_str)
            .map(str::to_string),
        published: meta
            .and_then(|m| m.get("datePublished"))
            .and_then(Value::as_str)
            .and_then(parse_time),
        descriptions: cna
            .map(|c| descriptions(arr(c, "descriptions")))
            .unwrap_or_default(),
        cwes: Vec::new(),
        cvss: Vec::new(),
    };
    if let Some(cna) = cna {
        cve5_container(cna, "cna", &mut rec);
    }
    if let Some(adps) = v
        .get("containers")
        .and_then(|c| c.get("adp"))
        .and_then(Value::as_array)
    {
        for adp in adps {
            cve5_container(adp, "adp", &mut rec);
        }
    }
    Ok(rec)
}

const NVD_METRICS: [(&str, &str); 4] = [
    ("cvssMetricV40", "4.0"),
    ("cvssMetricV31", "3.1"),
    ("cvssMetricV30", "3.0"),
    ("cvssMetricV2", "2.0"),
];

fn nvd(v: &Value) -> Result<CveRecord, String> {
    let id = v.get("id").and_then(Value::as_str).ok_or("missing id")?;
    if !is_cve_id(id) {
        return Err(format!("invalid id `{id}`"));
    }
    let mut rec = CveRecord {
        id: id.to_ascii_uppercase(),
        state: v
            .get("vulnStatus")
            .and_then(Value::as_str)
            .map(str::to_string),
        published: v
            .get("published")
            .and_then(Value::as_str)
            .and_then(parse_time),
        descriptions: descriptions(arr(v, "descriptions")),
        cwes: Vec::new(),
        cvss: Vec::new(),
    };
    if let Some(metrics) = v.get("metrics") {
        for (key, version) in NVD_METRICS {
            for m in arr(metrics, key) {
                let source = m.get("source").and_then(Value::as_str).unwrap_or("nvd");
                let Some(data) = m.get("cvssData") else {
                    continue;
                };
                if let Some(mut metric) = metric(data, source, version) {
                    if metric.severity.is_none() {
                        metric.severity = m
                            .get("baseSeverity")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                    }
                    rec.cvss.push(metric);
                }
            }
        }
    }
    for w in arr(v, "weaknesses") {
        for d in arr(w, "description") {
            if let Some(s) = d.get("value").and_then(Value::as_str) {
                push_cwe(&mut rec.cwes, s);
            }
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_id_shape() {
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(is_cve_id("cve-1999-0001"));
        assert!(!is_cve_id("CVE-21-44228"));
        assert!(!is_cve_id("CVE-2021-44x28"));
    }

    #[test]
    fn nvd_keeps_every_cvss_version_and_skips_nvd_cwe_placeholders() {
        let doc = br#"{"vulnerabilities":[{"cve":{"id":"CVE-2020-0001","descriptions":[{"lang":"en","value":"d"}],
          "metrics":{"cvssMetricV2":[{"source":"nvd@nist.gov","baseSeverity":"HIGH","cvssData":{"version":"2.0","vectorString":"AV:N/AC:L/Au:N/C:P/I:P/A:P","baseScore":7.5}}],
                     "cvssMetricV31":[{"source":"nvd@nist.gov","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","baseScore":9.8,"baseSeverity":"CRITICAL"}}]},
          "weaknesses":[{"description":[{"lang":"en","value":"NVD-CWE-Other"},{"lang":"en","value":"CWE-787"}]}]}}]}"#;
        let p = parse_cve(doc).expect("parses");
        let r = &p.records[0];
        assert_eq!(r.cvss.len(), 2);
        assert_eq!(r.cvss[0].version, "3.1");
        assert_eq!(r.cvss[1].severity.as_deref(), Some("HIGH"));
        assert_eq!(r.cwes, vec!["CWE-787"]);
    }

    #[test]
    fn unknown_json_is_refused() {
        assert!(parse_cve(br#"{"hello":1}"#).is_err());
    }
}
