//! Checkov JSON (`checkov -o json`): one report object per check type, or an array of them
//! (several frameworks in one run); the empty summary of a run with nothing to scan is read
//! as no findings. The scanned code is one application asset (`checkov`, or the repository
//! the report's `url` names); each failed check is a misconfiguration (a secret for the
//! `secrets` check type) at its file and line, with the resource as location resource.
//! Severity from `severity` when the platform API key added it, else unknown.

use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, read_json, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "checkov",
    kind: FormatKind::Code,
    description: "Checkov JSON (failed checks of every framework)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0, "checkov_version": "3.2.0"}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && (has(head, "check_type") && has(head, "results") || has(head, "checkov_version"))
    {
        92
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Checkov")?;
    let reports: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) if doc.get("check_type").is_some() => vec![&doc],
        Value::Object(_)
            if doc.get("checkov_version").is_some() || doc.get("summary").is_some() =>
        {
            vec![]
        }
        _ => {
            return Err(Error::Refused(
                "no `check_type`: not a Checkov report".into(),
            ));
        }
    };
    let mut out = Out::new(emit);
    for (ri, rep) in reports.into_iter().enumerate() {
        let check_type = s(rep, &["check_type"]).unwrap_or("");
        let failed = arr(&rep["results"], "failed_checks");
        if failed.is_empty() {
            continue;
        }
        let key = out.asset(named_asset(
            AssetKind::Application,
            s(rep, &["url"])
                .filter(|u| u.contains("://"))
                .unwrap_or("checkov"),
        ))?;
        for (i, c) in failed.iter().enumerate() {
            let place = format!("[{ri}].results.failed_checks[{i}]");
            let Some(id) = s(c, &["check_id"]) else {
                out.issue(place, "failed check without check_id")?;
                continue;
            };
            let sev = match s(c, &["severity"]) {
                Some(w) => match Severity::parse(w) {
                    Some(x) => x,
                    None => {
                        out.issue(place, format!("unknown severity {w:?}"))?;
                        continue;
                    }
                },
                None => Severity::Unknown,
            };
            let kind = if check_type == "secrets" {
                ExposureKind::Secret
            } else {
                ExposureKind::Misconfiguration
            };
            let mut e = Exposure::new(kind, s(c, &["check_name"]).unwrap_or(id), sev);
            e.rule_id = Some(id.to_string());
            let path = s(c, &["repo_file_path"]).or(s(c, &["file_path"]));
            e.location = Some(Location {
                path: path.map(str::to_string),
                line: c["file_line_range"][0].as_u64().map(|l| l as u32),
                resource: s(c, &["resource"]).map(str::to_string),
            });
            e.description = s(c, &["description"]).map(str::to_string);
            e.references
                .extend(s(c, &["guideline"]).map(str::to_string));
            e.evidence = Some(format!(
                "{check_type}: {}",
                s(c, &["resource"]).unwrap_or("")
            ));
            out.exposure(key, e)?;
        }
    }
    Ok(())
}
