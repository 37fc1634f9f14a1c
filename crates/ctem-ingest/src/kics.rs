//! KICS JSON results (`kics scan -o json`): each query with its failing files. The scanned
//! code is one application asset (`kics`); each (query, file, line) is a misconfiguration
//! (a secret for the `Secret Management` category) with the query id as rule id, the file
//! and line as location and the search key as resource; KICS's own `similarity_id` is kept
//! as the tool key. Severity `INFO` / `TRACE` is info.

use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, read_json, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "kics",
    kind: FormatKind::Code,
    description: "KICS JSON results (queries with failing files)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"kics_version": "v1.7.0", "files_scanned": 1, "queries": [], "total_counter": 0}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "queries")
        && (has(head, "kics_version") || has(head, "files_scanned") || has(head, "query_id"))
    {
        92
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "KICS")?;
    let Some(queries) = doc.get("queries").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `queries` array: not a KICS report".into(),
        ));
    };
    let mut out = Out::new(emit);
    let mut key = None;
    for (qi, q) in queries.iter().enumerate() {
        let place = format!("queries[{qi}]");
        let Some(id) = s(q, &["query_id"]) else {
            out.issue(place, "query without query_id")?;
            continue;
        };
        let sev = match s(q, &["severity"]).map(str::to_ascii_uppercase).as_deref() {
            Some("TRACE") | Some("INFO") => Severity::Info,
            Some(w) => match Severity::parse(w) {
                Some(x) => x,
                None => {
                    out.issue(place, format!("unknown severity {w:?}"))?;
                    continue;
                }
            },
            None => Severity::Unknown,
        };
        let secret = s(q, &["category"]) == Some("Secret Management");
        for f in arr(q, "files") {
            let k = match key {
                Some(k) => k,
                None => {
                    let k = out.asset(named_asset(AssetKind::Application, "kics"))?;
                    key = Some(k);
                    k
                }
            };
            let kind = if secret {
                ExposureKind::Secret
            } else {
                ExposureKind::Misconfiguration
            };
            let mut e = Exposure::new(kind, s(q, &["query_name"]).unwrap_or(id), sev);
            e.rule_id = Some(id.to_string());
            e.location = Some(Location {
                path: s(f, &["file_name"]).map(str::to_string),
                line: f["line"].as_u64().map(|l| l as u32),
                resource: s(f, &["search_key"]).map(str::to_string),
            });
            e.tool_key = s(f, &["similarity_id"]).map(str::to_string);
            e.description = s(q, &["description"]).map(str::to_string);
            e.evidence = match (s(f, &["expected_value"]), s(f, &["actual_value"])) {
                (Some(x), Some(a)) => Some(format!("expected: {x}; actual: {a}")),
                (Some(x), None) => Some(format!("expected: {x}")),
                _ => None,
            };
            e.references
                .extend(s(q, &["query_url"]).map(str::to_string));
            out.exposure(k, e)?;
        }
    }
    Ok(())
}
