//! Anchore: Anchore Engine / Enterprise vulnerability lists (`anchore-cli image vuln ... all`,
//! the newer `securityEvaluation` export), Anchore Enterprise policy evaluations (the
//! `header` / `rows` table), and anchorectl's `image vulnerabilities` and `image check`
//! outputs (old array and new `evaluations` forms). The image is the asset (tag and digest).
//! Vulnerabilities become package vulnerabilities; policy findings become misconfigurations
//! (or package vulnerabilities when the gate is `vulnerabilities` and names a CVE), with
//! severity from a leading severity word in the description, else `stop` = high,
//! `warn` = medium, `go` = info.

use std::io::BufRead;

use ctem_model::{AssetKey, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{
    Out, arr, cvss, has, ids_in_text, image_asset, is_json, num, package, present, read_json, s,
    severity,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "anchore",
    kind: FormatKind::Scanner,
    description: "Anchore Engine/Enterprise and anchorectl vulnerability and policy JSON",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: false,
        null: false,
        empty_array: true,
        example: r#"{"imageDigest": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "vulnerabilities": [], "vulnerability_type": "all"}"#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if !is_json(head) {
        return 0;
    }
    let engine = has(head, "vulnerabilities")
        && (has(head, "package_name")
            || has(head, "vulnerability_type")
            || has(head, "feed_group"));
    let ctl_vulns = has(head, "feedGroup") && has(head, "packageName") && has(head, "vuln");
    let new = has(head, "securityEvaluation");
    let policy = (has(head, "triggerId") && has(head, "gate"))
        || (has(head, "evaluatedTag") && has(head, "evaluations"));
    let enterprise = has(head, "whitelisted_images")
        || (has(head, "blacklisted_images") && has(head, "mappings"));
    if engine || ctl_vulns || new || policy || enterprise {
        90
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Anchore")?;
    let mut out = Out::new(emit);
    match &doc {
        Value::Object(_) if doc.get("securityEvaluation").is_some() => {
            let m = &doc["metadata"];
            let reference = match (s(m, &["registry"]), s(m, &["repository"]), s(m, &["tag"])) {
                (Some(r), Some(p), Some(t)) => Some(format!("{r}/{p}:{t}")),
                (None, Some(p), Some(t)) => Some(format!("{p}:{t}")),
                _ => None,
            };
            let key = out.asset(image_asset(reference.as_deref(), s(m, &["imageDigest"])))?;
            for (i, v) in arr(&doc, "securityEvaluation").iter().enumerate() {
                let place = format!("securityEvaluation[{i}]");
                match new_vuln(v) {
                    Ok(e) => out.exposure(key, e)?,
                    Err(msg) => out.issue(place, msg)?,
                }
            }
        }
        Value::Object(_) if doc.get("vulnerabilities").is_some() => {
            let reference = s(&doc, &["imageFullTag"]);
            let digest = s(&doc, &["imageDigest"]).or(s(&doc, &["image_digest"]));
            let key = out.asset(image_asset(reference, digest))?;
            vulns(
                &mut out,
                key,
                arr(&doc, "vulnerabilities"),
                "vulnerabilities",
            )?;
        }
        Value::Object(_) if doc.get("evaluations").is_some() => {
            let key = out.asset(image_asset(
                s(&doc, &["evaluatedTag"]),
                s(&doc, &["imageDigest"]),
            ))?;
            for (ei, ev) in arr(&doc, "evaluations").iter().enumerate() {
                for (i, d) in arr(ev, "details").iter().enumerate() {
                    policy_row(&mut out, key, d, &format!("evaluations[{ei}].details[{i}]"))?;
                }
            }
        }
        Value::Array(items) if items.iter().all(|x| x.get("vuln").is_some()) => {
            if items.is_empty() {
                return Ok(());
            }
            let key = out.asset(crate::common::named_asset(
                ctem_model::AssetKind::ContainerImage,
                "anchorectl image",
            ))?;
            vulns(&mut out, key, items, "")?;
        }
        Value::Array(items)
            if items
                .iter()
                .all(|x| x.get("detail").is_some() && x.get("digest").is_some()) =>
        {
            for (pi, p) in items.iter().enumerate() {
                let key = out.asset(image_asset(s(p, &["tag"]), s(p, &["digest"])))?;
                for (i, d) in arr(p, "detail").iter().enumerate() {
                    policy_row(&mut out, key, d, &format!("[{pi}].detail[{i}]"))?;
                }
            }
        }
        Value::Array(items) => enterprise(&mut out, items)?,
        _ => return Err(Error::Refused("not an Anchore report".into())),
    }
    Ok(())
}

fn vulns(out: &mut Out<'_, '_>, key: AssetKey, items: &[Value], at: &str) -> Result<()> {
    for (i, v) in items.iter().enumerate() {
        match vuln(v) {
            Ok(e) => out.exposure(key, e)?,
            Err(msg) => out.issue(format!("{at}[{i}]"), msg)?,
        }
    }
    Ok(())
}

fn vuln(v: &Value) -> std::result::Result<Exposure, String> {
    let f = |a: &str, b: &str| s(v, &[a]).or(s(v, &[b]));
    let id = f("vuln", "vulnerabilityId").ok_or("missing vuln")?;
    let name = f("package_name", "packageName").ok_or("missing package name")?;
    let sev = severity(s(v, &["severity"]))?;
    let mut e = Exposure::new(ExposureKind::Vulnerability, format!("{id} in {name}"), sev);
    e.add_vuln_id(id);
    e.package = Some(package(
        name,
        f("package_version", "packageVersion"),
        present(s(v, &["fix"])),
        f("package_type", "packageType"),
        f("package_path", "packagePath"),
    ));
    e.description = s(v, &["description"])
        .or(s(v, &["extra", "description"]))
        .map(str::to_string);
    for n in arr(v, "nvd_data") {
        for (k, ver) in [("cvss_v3", "3.1"), ("cvss_v2", "2.0")] {
            if let Some(sc) = num(&n[k], "base_score").filter(|x| *x >= 0.0)
                && let Some(mut c) = cvss(None, Some(sc), "nvd")
            {
                c.version = ver.into();
                e.cvss.push(c);
            }
        }
    }
    e.references.extend(s(v, &["url"]).map(str::to_string));
    Ok(e)
}

fn new_vuln(v: &Value) -> std::result::Result<Exposure, String> {
    let id = s(v, &["vulnerabilityId"]).ok_or("missing vulnerabilityId")?;
    let pkg = s(v, &["package"]).ok_or("missing package")?;
    let sev = severity(s(v, &["severity"]))?;
    let mut e = Exposure::new(ExposureKind::Vulnerability, format!("{id} in {pkg}"), sev);
    e.add_vuln_id(id);
    if let Some(c) = s(v, &["cves"]) {
        ids_in_text(&mut e, c);
    }
    e.package = Some(package(
        pkg,
        None,
        present(s(v, &["fixAvailable"])),
        s(v, &["packageType"]),
        s(v, &["path"]),
    ));
    e.cvss.extend(cvss(None, num(v, "nvdCvssBaseScore"), "nvd"));
    e.references.extend(s(v, &["link"]).map(str::to_string));
    Ok(e)
}

fn action_severity(action: &str, description: &str) -> Severity {
    let first = description.split_whitespace().next().unwrap_or("");
    if let Some(s) = Severity::parse(first).filter(|s| *s != Severity::Unknown) {
        return s;
    }
    match action.to_ascii_lowercase().as_str() {
        "stop" => Severity::High,
        "warn" => Severity::Medium,
        "go" => Severity::Info,
        _ => Severity::Unknown,
    }
}

fn policy_row(out: &mut Out<'_, '_>, key: AssetKey, d: &Value, place: &str) -> Result<()> {
    let (Some(gate), Some(desc)) = (s(d, &["gate"]), s(d, &["description"])) else {
        return out.issue(place, "missing gate or description");
    };
    let trigger = s(d, &["triggerName"]).unwrap_or("");
    let rule = format!("{gate}:{trigger}:{}", s(d, &["policyId"]).unwrap_or(""));
    let e = policy_exposure(
        gate,
        trigger,
        desc,
        s(d, &["status"]).unwrap_or(""),
        s(d, &["triggerId"]),
        rule,
    );
    out.exposure(key, e)
}

fn policy_exposure(
    gate: &str,
    trigger: &str,
    desc: &str,
    action: &str,
    trigger_id: Option<&str>,
    rule: String,
) -> Exposure {
    let sev = action_severity(action, desc);
    let vuln = gate == "vulnerabilities" && desc.contains("CVE-");
    let kind = if vuln {
        ExposureKind::Vulnerability
    } else {
        ExposureKind::Misconfiguration
    };
    let mut e = Exposure::new(
        kind,
        format!("{gate} {trigger}: {}", first_sentence(desc)),
        sev,
    );
    e.rule_id = Some(rule);
    e.description = Some(desc.to_string());
    if vuln {
        ids_in_text(&mut e, desc);
        // the trigger id (`CVE-x+pkg.jar`) tells one occurrence from another
        e.tool_key = trigger_id.map(str::to_string);
        e.location = Some(Location {
            path: desc
                .split(" - ")
                .nth(1)
                .and_then(|p| p.split(" (").next())
                .map(str::to_string),
            line: None,
            resource: None,
        });
    } else {
        e.location = Some(Location {
            path: None,
            line: None,
            resource: trigger_id.map(str::to_string),
        });
    }
    e
}

fn first_sentence(d: &str) -> &str {
    let d = d.split(" - ").next().unwrap_or(d);
    match d.char_indices().nth(120) {
        Some((i, _)) => &d[..i],
        None => d,
    }
}

/// Enterprise: `[{digest: {tag: [{detail: {result: {result: {image_id: {result: {header, rows}}}}}}]}}]`.
fn enterprise(out: &mut Out<'_, '_>, items: &[Value]) -> Result<()> {
    let mut recognised = items.is_empty();
    for (ii, item) in items.iter().enumerate() {
        let Some(by_digest) = item.as_object() else {
            continue;
        };
        for (digest, by_tag) in by_digest {
            let Some(by_tag) = by_tag.as_object() else {
                continue;
            };
            for (tag, evals) in by_tag {
                for (ei, ev) in evals
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                    .iter()
                    .enumerate()
                {
                    let place = format!("[{ii}].{digest}.{tag}[{ei}]");
                    let res = &ev["detail"]["result"];
                    let Some(table) = res["result"].as_object().and_then(|m| {
                        m.iter()
                            .find(|(k, _)| {
                                !matches!(
                                    k.as_str(),
                                    "final_action"
                                        | "policy_data"
                                        | "policy_name"
                                        | "whitelist_data"
                                        | "whitelist_names"
                                )
                            })
                            .map(|(_, v)| &v["result"])
                    }) else {
                        out.issue(place, "no policy result table")?;
                        continue;
                    };
                    recognised = true;
                    let key = out.asset(image_asset(Some(tag), Some(digest)))?;
                    let header: Vec<&str> = arr(table, "header")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    if header.is_empty() {
                        out.issue(format!("{place}.result"), "policy result without a header")?;
                        continue;
                    }
                    let col = |n: &str| header.iter().position(|h| *h == n);
                    let (g, t, o, a, tid) = (
                        col("Gate"),
                        col("Trigger"),
                        col("Check_Output"),
                        col("Gate_Action"),
                        col("Trigger_Id"),
                    );
                    let pid = col("Policy_Id");
                    for (ri, row) in arr(table, "rows").iter().enumerate() {
                        let cell = |c: Option<usize>| {
                            c.and_then(|c| row.get(c))
                                .and_then(Value::as_str)
                                .unwrap_or("")
                        };
                        let (gate, desc) = (cell(g), cell(o));
                        if gate.is_empty() || desc.is_empty() {
                            out.issue(
                                format!("{place}.rows[{ri}]"),
                                "row without Gate or Check_Output",
                            )?;
                            continue;
                        }
                        let trigger = cell(t);
                        let rule = format!("{gate}:{trigger}:{}", cell(pid));
                        let tid = Some(cell(tid)).filter(|x| !x.is_empty());
                        let e = policy_exposure(gate, trigger, desc, cell(a), tid, rule);
                        out.exposure(key, e)?;
                    }
                }
            }
        }
    }
    if !recognised {
        return Err(Error::Refused(
            "JSON array of an unknown shape: not an Anchore report".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_multibyte_descriptions_are_cut_on_a_char_boundary() {
        let d = "é".repeat(200);
        assert_eq!(first_sentence(&d).chars().count(), 120);
        assert_eq!(first_sentence("short - rest"), "short");
    }
}
