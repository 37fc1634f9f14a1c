//! Semgrep: the CLI JSON output (`semgrep --json`: `results` with `check_id`, `path`,
//! `start`, `extra`), the Semgrep AppSec Platform findings API (`findings` with
//! `rule_name`, `location`, `repository`) and its supply-chain API (`vulns` with `advisory`
//! and `matchedDependency`). The scanned repository is the asset (its URL when the platform
//! gives one, else the scan as an application named `semgrep`). Code findings are
//! vulnerabilities (secrets when the rule is a secrets rule) at their path and line, keyed
//! by the fingerprint Semgrep gives (`extra.fingerprint`, `match_based_id`) so a moved line
//! stays the same exposure; supply-chain findings are package vulnerabilities. Severity:
//! `ERROR` high, `WARNING` medium, `INFO` low, or the platform's word.

use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, package, read_json, s, st};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "semgrep",
    kind: FormatKind::Code,
    description: "Semgrep CLI JSON, AppSec Platform findings and supply-chain API JSON",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(r#"{"results": [], "errors": []}"#),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if !is_json(head) {
        return 0;
    }
    let cli = has(head, "results")
        && (has(head, "check_id")
            || (has(head, "errors") && !has(head, "runs") && !has(head, "packages")));
    let platform = has(head, "findings") && (has(head, "rule_name") || has(head, "match_based_id"));
    let sca = has(head, "vulns") && has(head, "matchedDependency");
    // `{"findings": []}`: an empty platform export, and an empty AWS Inspector report too
    let empty_platform =
        crate::trim_ascii_bom(head).starts_with(b"{") && has(head, "findings") && head.len() < 64;
    if cli || platform || sca {
        88
    } else if empty_platform {
        40
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Semgrep")?;
    let mut out = Out::new(emit);
    out.scan(Some("semgrep"))?;
    if let Some(results) = doc.get("results").and_then(Value::as_array) {
        if results.is_empty() {
            return Ok(());
        }
        let key = out.asset(named_asset(AssetKind::Application, "semgrep"))?;
        for (i, r) in results.iter().enumerate() {
            match cli(r) {
                Ok(e) => out.exposure(key, e)?,
                Err(m) => out.issue(format!("results[{i}]"), m)?,
            }
        }
    } else if let Some(findings) = doc.get("findings").and_then(Value::as_array) {
        for (i, f) in findings.iter().enumerate() {
            let repo = s(f, &["repository", "url"])
                .or(s(f, &["repository", "name"]))
                .unwrap_or("semgrep");
            let key = out.asset(named_asset(AssetKind::Repository, repo))?;
            match platform(f) {
                Ok(Some(e)) => out.exposure(key, e)?,
                Ok(None) => {}
                Err(m) => out.issue(format!("findings[{i}]"), m)?,
            }
        }
    } else if let Some(vulns) = doc.get("vulns").and_then(Value::as_array) {
        for (i, v) in vulns.iter().enumerate() {
            let repo = s(v, &["repositoryName"]).unwrap_or("semgrep");
            let key = out.asset(named_asset(AssetKind::Repository, repo))?;
            match sca(v) {
                Ok(e) => out.exposure(key, e)?,
                Err(m) => out.issue(format!("vulns[{i}]"), m)?,
            }
        }
    } else {
        return Err(Error::Refused(
            "no `results`, `findings` or `vulns`: not a Semgrep report".into(),
        ));
    }
    Ok(())
}

fn sev(w: Option<&str>) -> std::result::Result<Severity, String> {
    match w.map(str::to_ascii_uppercase).as_deref() {
        Some("ERROR") => Ok(Severity::High),
        Some("WARNING") => Ok(Severity::Medium),
        Some("INFO") => Ok(Severity::Low),
        Some("INVENTORY") | Some("EXPERIMENT") => Ok(Severity::Info),
        Some(x) => Severity::parse(x).ok_or_else(|| format!("unknown severity {x:?}")),
        None => Ok(Severity::Unknown),
    }
}

fn cwes(e: &mut Exposure, v: &Value) {
    let list: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    for c in list {
        e.add_cwe(c.split(':').next().unwrap_or(c));
    }
}

fn cli(r: &Value) -> std::result::Result<Exposure, String> {
    let rule = s(r, &["check_id"]).ok_or("missing check_id")?;
    let x = &r["extra"];
    let meta = &x["metadata"];
    let secret = rule.contains("secrets")
        || arr(meta, "category").is_empty() && s(meta, &["category"]) == Some("secrets");
    let kind = if secret {
        ExposureKind::Secret
    } else {
        ExposureKind::Vulnerability
    };
    let msg = s(x, &["message"]).unwrap_or(rule);
    let title = msg.lines().next().unwrap_or(rule);
    let mut e = Exposure::new(kind, title, sev(s(x, &["severity"]))?);
    e.rule_id = Some(rule.to_string());
    cwes(&mut e, &meta["cwe"]);
    e.location = Some(Location {
        path: s(r, &["path"]).map(str::to_string),
        line: r["start"]["line"].as_u64().map(|l| l as u32),
        resource: None,
    });
    e.tool_key = s(x, &["fingerprint"])
        .filter(|f| *f != "requires login")
        .map(str::to_string);
    e.description = Some(msg.to_string());
    e.solution = s(x, &["fix"]).map(|f| format!("fix: {f}"));
    e.evidence = if secret {
        None
    } else {
        s(x, &["lines"])
            .filter(|l| *l != "requires login")
            .map(str::to_string)
    };
    e.references.extend(
        s(meta, &["source-rule-url"])
            .or(s(meta, &["source"]))
            .map(str::to_string),
    );
    e.references.extend(
        arr(meta, "references")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    Ok(e)
}

fn platform(f: &Value) -> std::result::Result<Option<Exposure>, String> {
    if matches!(s(f, &["status"]), Some("fixed" | "ignored" | "removed")) {
        return Ok(None);
    }
    let rule = s(f, &["rule_name"]).ok_or("missing rule_name")?;
    let msg = s(f, &["rule_message"]).unwrap_or(rule);
    let secret = arr(f, "categories")
        .iter()
        .any(|c| c.as_str() == Some("secrets"));
    let kind = if secret {
        ExposureKind::Secret
    } else {
        ExposureKind::Vulnerability
    };
    let mut e = Exposure::new(
        kind,
        msg.lines().next().unwrap_or(rule),
        sev(s(f, &["severity"]))?,
    );
    e.rule_id = Some(rule.to_string());
    cwes(&mut e, &f["rule"]["cwe_names"]);
    e.location = Some(Location {
        path: s(f, &["location", "file_path"]).map(str::to_string),
        line: f["location"]["line"].as_u64().map(|l| l as u32),
        resource: None,
    });
    e.tool_key = s(f, &["match_based_id"])
        .or(s(f, &["syntactic_id"]))
        .map(str::to_string);
    e.description = Some(msg.to_string());
    e.references
        .extend(s(f, &["line_of_code_url"]).map(str::to_string));
    Ok(Some(e))
}

fn sca(v: &Value) -> std::result::Result<Exposure, String> {
    let adv = &v["advisory"];
    let dep = &v["matchedDependency"];
    let name = s(dep, &["name"]).ok_or("missing matchedDependency.name")?;
    let mut e = Exposure::new(
        ExposureKind::Vulnerability,
        s(v, &["title"]).or(s(adv, &["title"])).unwrap_or(name),
        sev(s(adv, &["severity"]))?,
    );
    for c in arr(&adv["references"], "cveIds")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_vuln_id(c);
    }
    if let Some(r) = s(adv, &["ruleId"]) {
        e.add_vuln_id(r);
        e.rule_id = Some(r.to_string());
    }
    cwes(&mut e, &adv["references"]["cweIds"]);
    e.package = Some(package(
        name,
        s(dep, &["versionSpecifier"]),
        s(&v["closestSafeDependency"], &["versionSpecifier"]),
        s(adv, &["ecosystem"]),
        s(v, &["dependencyFileLocation", "path"]),
    ));
    e.description = s(adv, &["description"]).map(str::to_string);
    e.evidence = st(v, &["exposureType"]).map(|x| format!("exposure: {}", x.to_ascii_lowercase()));
    e.references.extend(
        arr(&adv["references"], "urls")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    Ok(e)
}
