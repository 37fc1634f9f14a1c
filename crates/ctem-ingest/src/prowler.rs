//! Prowler cloud security findings, every output Prowler has had: v2 CSV (comma,
//! `TITLE_ID` / `CHECK_RESULT`) and JSON lines (`Control ID`, `Account Number`), v3 JSON
//! (`CheckID`, `StatusExtended`), v3 / v4 CSV (semicolon, `CHECK_ID`, `STATUS`), and OCSF
//! JSON before 4.5 (`event_time`) and after (`time_dt`), for AWS, Azure, GCP and Kubernetes.
//!
//! Only failed checks are exposures (`PASS`, `INFO`, `MANUAL` and muted findings are left
//! out). Each failing resource is its own cloud-resource asset, identified by its provider
//! id (ARN, Azure resource id, GCP name, k8s uid) so a check failing on many resources is one
//! exposure per resource; v2, which names no resource, puts findings on the account. Each
//! is a misconfiguration with the check id as rule id and the resource (or, in v2, region and
//! message) as location resource.

use std::io::BufRead;

use ctem_model::{Asset, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{Csv, Out, cloud_asset, csv_header, has, is_json, read_all, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "prowler",
    kind: FormatKind::Scanner,
    description: "Prowler v2-v5 CSV, JSON and OCSF JSON (AWS, Azure, GCP, Kubernetes)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: true,
        null: false,
        empty_array: true,
        example: r#"[]"#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head) {
        let v2 = has(head, "Control ID") && has(head, "Account Number");
        let v3 = has(head, "CheckID") && has(head, "StatusExtended");
        let ocsf = has(head, "finding_info")
            && (crate::common::contains(head, "\"Prowler\"")
                || crate::common::contains(head, "prowler"));
        return if v2 || v3 || ocsf { 92 } else { 0 };
    }
    match csv_header(head) {
        Some(h)
            if (h.contains("title_id") && h.contains("check_result"))
                || (h.contains("check_id") && h.contains("status_extended")) =>
        {
            92
        }
        _ => 0,
    }
}

/// One finding in a common shape.
#[derive(Default)]
struct F<'a> {
    check: Option<&'a str>,
    title: Option<&'a str>,
    status: Option<&'a str>,
    detail: Option<&'a str>,
    severity: Option<&'a str>,
    resource_uid: Option<&'a str>,
    resource_name: Option<&'a str>,
    account: Option<&'a str>,
    provider: Option<&'a str>,
    region: Option<&'a str>,
    description: Option<&'a str>,
    remediation: Option<&'a str>,
    url: Option<&'a str>,
    muted: bool,
    time: Option<&'a str>,
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "Prowler")?;
    let body = crate::trim_ascii_bom(&buf);
    let mut out = Out::new(emit);
    if body.starts_with(b"{") || body.starts_with(b"[") {
        let mut r = body;
        let doc = crate::common::read_json_or_lines(&mut r, "Prowler")?;
        let items: Vec<&Value> = match &doc {
            Value::Array(a) => a.iter().collect(),
            Value::Object(_) => vec![&doc],
            _ => return Err(Error::Refused("not Prowler output".into())),
        };
        for (i, v) in items.into_iter().enumerate() {
            let f = if v.get("finding_info").is_some() {
                ocsf(v)
            } else if v.get("CheckID").is_some() {
                v3(v)
            } else {
                v2(v)
            };
            one(&mut out, f, &format!("[{i}]"))?;
        }
        return Ok(());
    }
    let first = body.split(|c| *c == b'\n').next().unwrap_or(b"");
    let delim = if first.iter().filter(|c| **c == b';').count()
        > first.iter().filter(|c| **c == b',').count()
    {
        b';'
    } else {
        b','
    };
    let csv = crate::common::csv_with(body, delim)?;
    csv_rows(&mut out, &csv)
}

fn ocsf(v: &Value) -> F<'_> {
    let r = &v["resources"][0];
    F {
        check: s(v, &["metadata", "event_code"]),
        title: s(v, &["finding_info", "title"]),
        status: s(v, &["status_code"]),
        detail: s(v, &["status_detail"]),
        severity: s(v, &["severity"]),
        resource_uid: s(r, &["uid"]),
        resource_name: s(r, &["name"]),
        account: s(v, &["cloud", "account", "uid"]),
        provider: s(v, &["cloud", "provider"]).or(s(v, &["metadata", "product", "name"])),
        region: s(r, &["region"]).or(s(v, &["cloud", "region"])),
        description: s(v, &["finding_info", "desc"]),
        remediation: s(v, &["remediation", "desc"]),
        url: s(v, &["unmapped", "related_url"]),
        muted: s(v, &["status"]) == Some("Suppressed"),
        time: s(v, &["time_dt"]).or(s(v, &["event_time"])),
    }
}

fn v3(v: &Value) -> F<'_> {
    F {
        check: s(v, &["CheckID"]),
        title: s(v, &["CheckTitle"]),
        status: s(v, &["Status"]),
        detail: s(v, &["StatusExtended"]),
        severity: s(v, &["Severity"]),
        resource_uid: s(v, &["ResourceArn"]).or(s(v, &["ResourceId"])),
        resource_name: s(v, &["ResourceId"]),
        account: s(v, &["AccountId"])
            .or(s(v, &["Subscription"]))
            .or(s(v, &["ProjectId"])),
        provider: s(v, &["Provider"]),
        region: s(v, &["Region"]),
        description: s(v, &["Description"]),
        remediation: s(v, &["Remediation", "Recommendation", "Text"]),
        url: s(v, &["RelatedUrl"]),
        muted: v["Muted"].as_bool().unwrap_or(false),
        time: None,
    }
}

fn v2(v: &Value) -> F<'_> {
    F {
        check: s(v, &["Control ID"]),
        title: s(v, &["Control"]),
        status: s(v, &["Status"]),
        detail: s(v, &["Message"]),
        severity: s(v, &["Severity"]),
        resource_uid: s(v, &["Resource ID"]),
        resource_name: None,
        account: s(v, &["Account Number"]),
        provider: Some("aws"),
        region: s(v, &["Region"]),
        description: s(v, &["Risk"]),
        remediation: s(v, &["Remediation"]),
        url: s(v, &["Doc link"]),
        muted: false,
        time: s(v, &["Timestamp"]),
    }
}

fn csv_rows(out: &mut Out<'_, '_>, csv: &Csv) -> Result<()> {
    let c = |n: &[&str]| csv.col(n);
    let cols = [
        c(&["CHECK_ID", "TITLE_ID"]),
        c(&["CHECK_TITLE", "TITLE_TEXT"]),
        c(&["STATUS", "CHECK_RESULT"]),
        c(&["STATUS_EXTENDED", "CHECK_RESULT_EXTENDED"]),
        c(&["SEVERITY", "CHECK_SEVERITY"]),
        c(&["RESOURCE_UID", "RESOURCE_ARN", "RESOURCE_ID"]),
        c(&["RESOURCE_NAME", "RESOURCE_ID"]),
        c(&["ACCOUNT_UID", "ACCOUNT_ID", "ACCOUNT_NUM"]),
        c(&["PROVIDER"]),
        c(&["REGION"]),
        c(&["DESCRIPTION", "CHECK_RISK"]),
        c(&["REMEDIATION_RECOMMENDATION_TEXT", "CHECK_REMEDIATION"]),
        c(&["RELATED_URL", "CHECK_DOC"]),
        c(&["MUTED"]),
        c(&["TIMESTAMP"]),
    ];
    if cols[0].is_none() || cols[2].is_none() {
        return Err(Error::Refused(
            "CSV without check id and status columns: not a Prowler export".into(),
        ));
    }
    for (line, row) in &csv.rows {
        let g = |i: usize| csv.get(row, cols[i]);
        let f = F {
            check: g(0),
            title: g(1),
            status: g(2),
            detail: g(3),
            severity: g(4),
            resource_uid: g(5),
            resource_name: g(6),
            account: g(7),
            provider: g(8).or(Some("aws")),
            region: g(9),
            description: g(10),
            remediation: g(11),
            url: g(12),
            muted: g(13).is_some_and(|m| m.eq_ignore_ascii_case("true")),
            time: g(14),
        };
        one(out, f, &format!("line {line}"))?;
    }
    Ok(())
}

fn one(out: &mut Out<'_, '_>, f: F<'_>, place: &str) -> Result<()> {
    let Some(check) = f.check else {
        return out.issue(place, "finding without a check id");
    };
    match f.status.map(str::to_ascii_uppercase).as_deref() {
        Some("FAIL") => {}
        Some(_) => return Ok(()),
        None => return out.issue(place, "finding without a status"),
    }
    if f.muted {
        return Ok(());
    }
    let sev = match f.severity {
        Some(w) => match Severity::parse(w) {
            Some(x) => x,
            None => return out.issue(place, format!("unknown severity {w:?}")),
        },
        None => Severity::Unknown,
    };
    let provider = f.provider.unwrap_or("cloud").to_ascii_lowercase();
    let (asset, resource): (Asset, String) = match f
        .resource_uid
        .filter(|u| !u.starts_with('<') || u.len() > 2)
    {
        // v2 writes short resource names (`MFA`, a bucket name): scope them by account
        Some(uid) if !uid.contains([':', '/']) => {
            let id = format!("{provider}:{}:{uid}", f.account.unwrap_or("unknown"));
            (
                cloud_asset(&id, Some(f.resource_name.unwrap_or(uid))),
                uid.to_string(),
            )
        }
        Some(uid) if !uid.is_empty() => (cloud_asset(uid, f.resource_name), uid.to_string()),
        _ => {
            let acct = f.account.unwrap_or("unknown");
            let id = format!("{provider}:account:{acct}");
            let res = format!("{}: {}", f.region.unwrap_or(""), f.detail.unwrap_or(""));
            (
                cloud_asset(&id, Some(&format!("{provider} account {acct}"))),
                res,
            )
        }
    };
    let key = out.asset(asset)?;
    let mut e = Exposure::new(
        ExposureKind::Misconfiguration,
        f.title.unwrap_or(check),
        sev,
    );
    e.rule_id = Some(check.to_string());
    e.location = Some(Location {
        path: None,
        line: None,
        resource: Some(resource),
    });
    e.evidence = f.detail.map(str::to_string);
    e.description = f.description.map(str::to_string);
    e.solution = f.remediation.map(str::to_string);
    e.references.extend(f.url.map(str::to_string));
    e.first_seen = f.time.and_then(|t| {
        crate::common::time(Some(t)).or_else(|| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()
                .map(|n| n.and_utc())
        })
    });
    out.exposure(key, e)
}
