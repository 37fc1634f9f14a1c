//! TruffleHog: v3 JSON lines (`DetectorName`, `SourceMetadata`, `Verified`), v2 JSON lines
//! (`reason`, `stringsFound`, `commitHash`) and trufflehog3 JSON (current: `rule`, `path`,
//! `line`, `secret`; legacy: the v2 shape in an array). The repository is the asset (v3's
//! `SourceMetadata.Data.Git.repository`, else an application named `trufflehog`); each
//! finding is a secret exposure at its file and line (v2 has no line: one exposure per
//! commit, path and reason, the strings found counted in the evidence). Secrets are never
//! stored, only redacted prefixes. Severity: verified v3 secrets critical, others high;
//! trufflehog3's own rule severity when present.

use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, read_json_or_lines, redact, s, st};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "trufflehog",
    kind: FormatKind::Code,
    description: "TruffleHog v3 and v2 JSON lines, trufflehog3 JSON",
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
    let v3 = has(head, "DetectorName") && has(head, "SourceMetadata");
    let v2 = has(head, "stringsFound") && has(head, "reason");
    let t3 = has(head, "rule") && has(head, "secret") && has(head, "context");
    if is_json(head) && (v3 || v2 || t3) {
        92
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json_or_lines(input, "TruffleHog")?;
    let items: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&doc],
        _ => return Err(Error::Refused("not TruffleHog output".into())),
    };
    let mut out = Out::new(emit);
    for (i, f) in items.into_iter().enumerate() {
        let place = format!("[{i}]");
        let found = if f.get("DetectorName").is_some() {
            v3(f)
        } else if f.get("stringsFound").is_some() {
            v2(f)
        } else if f.get("rule").is_some() {
            t3(f)
        } else {
            Err("not a TruffleHog finding".to_string())
        };
        match found {
            Ok((repo, e)) => {
                let asset = match repo {
                    Some(r) => named_asset(AssetKind::Repository, &r),
                    None => named_asset(AssetKind::Application, "trufflehog"),
                };
                let key = out.asset(asset)?;
                out.exposure(key, e)?;
            }
            Err(m) => out.issue(place, m)?,
        }
    }
    Ok(())
}

type Found = std::result::Result<(Option<String>, Exposure), String>;

fn v3(f: &Value) -> Found {
    let det = s(f, &["DetectorName"]).ok_or("missing DetectorName")?;
    let data = f["SourceMetadata"]["Data"]
        .as_object()
        .and_then(|m| m.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    let verified = f["Verified"].as_bool().unwrap_or(false);
    let file = s(&data, &["file"])
        .or(s(&data, &["path"]))
        .or(s(&data, &["link"]));
    let mut e = Exposure::new(
        ExposureKind::Secret,
        format!(
            "{det} secret{}{}",
            if verified { " (verified)" } else { "" },
            file.map(|p| format!(" in {p}")).unwrap_or_default()
        ),
        if verified {
            Severity::Critical
        } else {
            Severity::High
        },
    );
    e.rule_id = Some(det.to_string());
    let line = data["line"].as_u64().map(|l| l as u32);
    e.location = Some(Location {
        path: file.map(str::to_string),
        line,
        resource: None,
    });
    e.tool_key = s(&data, &["commit"]).map(|c| format!("{c}:{}", line.unwrap_or(0)));
    e.evidence = Some(format!(
        "{det} in commit {}: {}",
        s(&data, &["commit"]).unwrap_or("?"),
        redact(s(f, &["Redacted"]).or(s(f, &["Raw"])).unwrap_or(""))
    ));
    Ok((s(&data, &["repository"]).map(str::to_string), e))
}

fn v2(f: &Value) -> Found {
    let reason = s(f, &["reason"]).ok_or("missing reason")?;
    let path = s(f, &["path"]).ok_or("missing path")?;
    let strings: Vec<&str> = arr(f, "stringsFound")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut e = Exposure::new(
        ExposureKind::Secret,
        format!("{reason} in {path}"),
        Severity::High,
    );
    e.rule_id = Some(reason.to_string());
    e.location = Some(Location {
        path: Some(path.to_string()),
        line: None,
        resource: None,
    });
    e.tool_key = s(f, &["commitHash"]).map(str::to_string);
    e.evidence = Some(format!(
        "{} string(s) found in commit {} on {}: {}",
        strings.len(),
        s(f, &["commitHash"]).unwrap_or("?"),
        s(f, &["branch"]).unwrap_or("?"),
        strings
            .iter()
            .map(|x| redact(x))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok((None, e))
}

fn t3(f: &Value) -> Found {
    let rule = &f["rule"];
    let id = s(rule, &["id"]).ok_or("missing rule.id")?;
    let path = s(f, &["path"]).ok_or("missing path")?;
    let sev = match s(rule, &["severity"]) {
        Some(w) => Severity::parse(w).ok_or_else(|| format!("unknown severity {w:?}"))?,
        None => Severity::High,
    };
    let mut e = Exposure::new(
        ExposureKind::Secret,
        format!("{} in {path}", s(rule, &["message"]).unwrap_or(id)),
        sev,
    );
    e.rule_id = Some(id.to_string());
    let line = st(f, &["line"]).and_then(|l| l.parse().ok());
    e.location = Some(Location {
        path: Some(path.to_string()),
        line,
        resource: None,
    });
    e.tool_key = s(f, &["commit"]).map(|c| format!("{c}:{}", line.unwrap_or(0)));
    e.evidence = Some(format!(
        "{id} in commit {}: {}",
        s(f, &["commit"]).unwrap_or("?"),
        redact(s(f, &["secret"]).unwrap_or(""))
    ));
    Ok((None, e))
}
