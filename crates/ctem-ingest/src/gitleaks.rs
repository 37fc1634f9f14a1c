//! gitleaks JSON reports: v8 (`RuleID`, `File`, `StartLine`, `Secret`, `Fingerprint`) and v7
//! and older (`rule`, `file`, `lineNumber`, `offender`, `repo`). The repository is the asset
//! (its URL or name from v7's `repoURL` / `repo`, else an application named `gitleaks`).
//! Each leak is a secret exposure at its file and line, keyed by commit and line (v8's
//! `Fingerprint` when given) so the same leak re-reported is the same exposure. Secrets are
//! never stored: the evidence names the rule, commit and a redacted prefix. Severity high
//! (a leaked credential is exploitable as found); gitleaks has no severity of its own.

use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind, Location, Severity};

use crate::common::{Out, has, named_asset, read_json, redact, s, st};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "gitleaks",
    kind: FormatKind::Code,
    description: "gitleaks JSON (v8 and v7 and older)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: false,
        null: true,
        empty_array: true,
        example: r#"[]"#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    let v8 = has(head, "RuleID") && has(head, "StartLine");
    let v7 = has(head, "offender") && has(head, "rule") && has(head, "commit");
    if crate::trim_ascii_bom(head).starts_with(b"[") && (v8 || v7) {
        92
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "gitleaks")?;
    let Some(leaks) = doc.as_array() else {
        return Err(Error::Refused(
            "not a JSON array: not a gitleaks report".into(),
        ));
    };
    let mut out = Out::new(emit);
    for (i, l) in leaks.iter().enumerate() {
        let place = format!("[{i}]");
        let rule = s(l, &["RuleID"]).or(s(l, &["rule"]));
        let file = s(l, &["File"]).or(s(l, &["file"]));
        let (Some(rule), Some(file)) = (rule, file) else {
            out.issue(place, "leak without rule or file")?;
            continue;
        };
        let repo = s(l, &["repoURL"]).or(s(l, &["repo"]).filter(|r| *r != "."));
        let asset = match repo {
            Some(r) => named_asset(AssetKind::Repository, r),
            None => named_asset(AssetKind::Application, "gitleaks"),
        };
        let key = out.asset(asset)?;
        let line = l["StartLine"]
            .as_u64()
            .or(l["lineNumber"].as_u64())
            .map(|n| n as u32);
        let commit = s(l, &["Commit"]).or(s(l, &["commit"]));
        let title = s(l, &["Description"]).unwrap_or(rule);
        let mut e = Exposure::new(
            ExposureKind::Secret,
            format!("{title} secret in {file}"),
            Severity::High,
        );
        e.rule_id = Some(rule.to_string());
        e.location = Some(Location {
            path: Some(file.to_string()),
            line,
            resource: None,
        });
        e.tool_key = s(l, &["Fingerprint"])
            .map(str::to_string)
            .or_else(|| commit.map(|c| format!("{c}:{}", line.unwrap_or(0))));
        let secret = s(l, &["Secret"]).or(s(l, &["offender"])).unwrap_or("");
        e.evidence = Some(format!(
            "{rule} in commit {} by {}: {}",
            commit.unwrap_or("?"),
            s(l, &["Author"]).or(s(l, &["author"])).unwrap_or("?"),
            redact(secret)
        ));
        e.first_seen = crate::common::time(s(l, &["Date"]).or(s(l, &["date"])));
        e.references
            .extend(s(l, &["leakURL"]).or(s(l, &["Link"])).map(str::to_string));
        let _ = st(l, &["Entropy"]);
        out.exposure(key, e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Record, parse_bytes};

    #[test]
    fn secrets_are_redacted_in_the_evidence() {
        let doc = br#"[{"Description":"AWS","StartLine":2,"Secret":"AKIAABCDEFGHIJKLMNOP","Match":"key=AKIAABCDEFGHIJKLMNOP",
            "File":"a.tf","Commit":"abc","RuleID":"aws-access-token","Fingerprint":"abc:a.tf:aws-access-token:2"}]"#;
        let recs = parse_bytes(&super::FORMAT, doc).expect("parses");
        let e = recs
            .iter()
            .find_map(|r| match r {
                Record::Exposure { exposure, .. } => Some(exposure),
                _ => None,
            })
            .expect("exposure");
        let ev = e.evidence.as_deref().unwrap_or("");
        assert!(!ev.contains("AKIAABCDEFGHIJKLMNOP"), "{ev}");
        assert!(ev.contains("AKIA... (20 chars)"), "{ev}");
        assert_eq!(e.tool_key.as_deref(), Some("abc:a.tf:aws-access-token:2"));
    }
}
