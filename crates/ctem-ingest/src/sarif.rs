//! SARIF 2.1.0 (static analysis results: CodeQL, Semgrep, SpotBugs, gitleaks, Trivy, ...).
//! Each run is one asset: the repository of `versionControlProvenance` when given, else an
//! application named by the run's source root or automation id, else by the tool. Each result
//! becomes an exposure at its first physical location; suppressed results (accepted or
//! without a status) are left out, as the tool's user decided.
//!
//! SARIF reports are read whole: they are documents, not streams, and the largest real ones
//! are a few megabytes.

use std::io::BufRead;

use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, Identifier, IdentifierKind, Location, Record,
    RecordIssue, Severity,
};
use serde_json::Value;

use crate::jsonutil::{has_key, looks_like_json};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "sarif",
    kind: FormatKind::Code,
    description: "SARIF 2.1.0 static analysis results (CodeQL, Semgrep, SpotBugs, gitleaks, ...)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeScanner"}}, "results": []}]}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if !looks_like_json(head) || !has_key(head, "runs") {
        return 0;
    }
    let sarif_schema = memchr::memmem::find(head, b"sarif").is_some();
    let version = has_key(head, "version");
    match (sarif_schema, version) {
        (true, _) => 95,
        (false, true) => 50,
        _ => 20,
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc: Value = serde_json::from_reader(input).map_err(Error::json)?;
    let Some(runs) = doc.get("runs").and_then(Value::as_array) else {
        return Err(Error::Refused("no `runs` array: not a SARIF log".into()));
    };
    if let Some(v) = doc.get("version").and_then(Value::as_str)
        && !v.starts_with("2.")
    {
        return Err(Error::Refused(format!(
            "SARIF version {v} is not supported (2.1.0 is)"
        )));
    }
    let mut tools: Vec<String> = Vec::new();
    for run in runs {
        let tool = run["tool"]["driver"]["name"].as_str().unwrap_or("sarif");
        if !tools.iter().any(|t| t == tool) {
            tools.push(tool.to_string());
        }
    }
    // the tool comes first: the store keys lifecycle and fingerprints by it
    let joined = tools.join("+");
    emit(Record::ScanInfo {
        tool: (!joined.is_empty()).then_some(joined),
        started_at: None,
        finished_at: None,
        covers: ctem_model::Coverage::Assets,
    })?;
    for (ri, run) in runs.iter().enumerate() {
        let driver = &run["tool"]["driver"];
        let tool = driver["name"].as_str().unwrap_or("sarif").to_string();
        let asset = run_asset(run, &tool);
        let key = ri as u32;
        emit(Record::Asset { key, asset })?;
        let rules: Vec<&Value> = driver["rules"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let results = run["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (i, res) in results.iter().enumerate() {
            let place = format!("runs[{ri}].results[{i}]");
            match result(res, &rules, &tool) {
                Ok(Some(e)) => emit(Record::Exposure {
                    asset: key,
                    exposure: Box::new(e),
                })?,
                Ok(None) => {}
                Err(msg) => emit(Record::Issue(RecordIssue::new(place, msg)))?,
            }
        }
    }
    Ok(())
}

fn run_asset(run: &Value, tool: &str) -> Asset {
    if let Some(repo) = run["versionControlProvenance"][0]["repositoryUri"].as_str() {
        return Asset::new(AssetKind::Repository, repo)
            .with_identifier(Identifier::new(IdentifierKind::RepoUrl, repo));
    }
    let root = run["originalUriBaseIds"]
        .as_object()
        .and_then(|m| m.values().find_map(|v| v["uri"].as_str()))
        .filter(|u| !u.is_empty());
    let auto = run["automationDetails"]["id"].as_str();
    let name = root
        .map(str::to_string)
        .or(auto.map(str::to_string))
        .unwrap_or_else(|| format!("sarif:{tool}"));
    Asset::new(AssetKind::Application, &name)
        .with_identifier(Identifier::new(IdentifierKind::Name, &name))
}

fn text(v: &Value) -> Option<&str> {
    v["text"]
        .as_str()
        .or(v["markdown"].as_str())
        .filter(|s| !s.trim().is_empty())
}

/// A result's message: its text, or its rule's message string with `{0}` arguments filled.
fn message(res: &Value, rule: Option<&Value>) -> Option<String> {
    if let Some(t) = text(&res["message"]) {
        return Some(t.to_string());
    }
    let id = res["message"]["id"].as_str()?;
    let tmpl = rule.and_then(|r| text(&r["messageStrings"][id]))?;
    let mut out = tmpl.to_string();
    if let Some(args) = res["message"]["arguments"].as_array() {
        for (i, a) in args.iter().enumerate() {
            out = out.replace(&format!("{{{i}}}"), a.as_str().unwrap_or(""));
        }
    }
    Some(out)
}

fn result(
    res: &Value,
    rules: &[&Value],
    tool: &str,
) -> std::result::Result<Option<Exposure>, String> {
    if !res.is_object() {
        return Err("result is not an object".into());
    }
    if let Some(sups) = res["suppressions"].as_array() {
        let suppressed = sups
            .iter()
            .any(|s| matches!(s["status"].as_str(), None | Some("accepted")));
        if suppressed {
            return Ok(None);
        }
    }
    if res["baselineState"].as_str() == Some("absent") {
        return Ok(None);
    }
    let rule_index = res["ruleIndex"]
        .as_u64()
        .or(res["rule"]["index"].as_u64())
        .map(|i| i as usize);
    let rule_id = res["ruleId"]
        .as_str()
        .or(res["rule"]["id"].as_str())
        .map(str::to_string);
    let rule = rule_index.and_then(|i| rules.get(i).copied()).or_else(|| {
        let id = rule_id.as_deref()?;
        rules.iter().copied().find(|r| r["id"].as_str() == Some(id))
    });
    let rule_id = rule_id.or_else(|| rule.and_then(|r| r["id"].as_str()).map(str::to_string));
    let msg = message(res, rule);
    let Some(rule_id) = rule_id.or_else(|| msg.clone()) else {
        return Err("result has neither a rule id nor a message".into());
    };
    let title = rule
        .and_then(|r| text(&r["shortDescription"]))
        .map(str::to_string)
        .or(msg.clone())
        .unwrap_or_else(|| rule_id.clone());
    let props = |v: &Value, k: &str| -> Option<String> {
        match &v["properties"][k] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let sec_sev = props(res, "security-severity")
        .or_else(|| rule.and_then(|r| props(r, "security-severity")))
        .and_then(|s| s.parse::<f64>().ok());
    let level = res["level"]
        .as_str()
        .or(rule.and_then(|r| r["defaultConfiguration"]["level"].as_str()))
        .unwrap_or("warning");
    let severity = match sec_sev {
        Some(s) => Severity::from_cvss(s),
        None => match level {
            "error" => Severity::High,
            "warning" => Severity::Medium,
            "note" => Severity::Low,
            "none" => Severity::Info,
            other => return Err(format!("unknown level {other:?}")),
        },
    };
    let tags: Vec<String> = rule
        .and_then(|r| r["properties"]["tags"].as_array())
        .into_iter()
        .flatten()
        .chain(res["properties"]["tags"].as_array().into_iter().flatten())
        .filter_map(|t| t.as_str().map(str::to_ascii_lowercase))
        .collect();
    let tool_l = tool.to_ascii_lowercase();
    let kind = if tool_l.contains("gitleaks")
        || tool_l.contains("secret")
        || tags.iter().any(|t| t == "secret" || t == "secrets")
    {
        ExposureKind::Secret
    } else if tool_l.contains("dockle")
        || tool_l.contains("checkov")
        || tool_l.contains("kics")
        || tags.iter().any(|t| t.contains("misconfiguration"))
    {
        ExposureKind::Misconfiguration
    } else {
        ExposureKind::Vulnerability
    };
    let mut e = Exposure::new(kind, title, severity);
    if rule_id.starts_with("CVE-") || rule_id.starts_with("GHSA-") {
        e.add_vuln_id(&rule_id);
    }
    e.rule_id = Some(rule_id);
    e.description = rule
        .and_then(|r| text(&r["fullDescription"]).or(text(&r["help"])))
        .map(str::to_string);
    e.evidence = msg;
    for t in &tags {
        // CodeQL: external/cwe/cwe-079; others: CWE-79
        if let Some(n) = t.rsplit('/').next().and_then(|x| x.strip_prefix("cwe-")) {
            e.add_cwe(n.trim_start_matches('0'));
        }
    }
    if let Some(u) = rule.and_then(|r| r["helpUri"].as_str()) {
        e.references.push(u.to_string());
    }
    let loc = &res["locations"][0]["physicalLocation"];
    let uri = loc["artifactLocation"]["uri"].as_str().map(str::to_string);
    let line = loc["region"]["startLine"].as_u64().map(|l| l as u32);
    let logical = res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        .as_str()
        .map(str::to_string);
    if uri.is_some() || line.is_some() || logical.is_some() {
        e.location = Some(Location {
            path: uri,
            line,
            resource: logical,
        });
    }
    let fp = res["partialFingerprints"]
        .as_object()
        .or(res["fingerprints"].as_object())
        .and_then(|m| {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            keys.first()
                .and_then(|k| m[*k].as_str())
                .map(str::to_string)
        });
    e.tool_key = fp;
    Ok(Some(e))
}
