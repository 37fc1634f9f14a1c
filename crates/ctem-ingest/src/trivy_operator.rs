//! Trivy Operator custom resources (`aquasecurity.github.io/v1alpha1`), as `kubectl get -o
//! json` writes them: one report, a list (`[...]` or a `List` with `items`), or a dict of
//! lists keyed by CRD plural. Vulnerability and exposed-secret reports are about a
//! container image (registry, repository, tag, digest): the image is the asset, and each
//! vulnerability a package vulnerability, each secret a secret exposure at its target file.
//! Config-audit, RBAC and infra assessment reports are about a Kubernetes resource: the
//! resource is a cloud-resource asset (`k8s://namespace/kind/name`) and each failed check a
//! misconfiguration. Cluster compliance reports give one misconfiguration per control with
//! failures, on the cluster. SBOM reports carry no findings and are skipped.

use std::io::BufRead;

use ctem_model::{Asset, Exposure, ExposureKind, Location, Severity};
use serde_json::Value;

use crate::common::{
    Out, arr, cloud_asset, cvss, has, image_asset, is_json, num, package, read_json, s,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "trivy_operator",
    kind: FormatKind::Scanner,
    description: "Trivy Operator CRD reports (vulnerability, config audit, secret, RBAC, compliance)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport", "metadata": {"name": "replicaset-nginx", "namespace": "default"}, "report": {"artifact": {"repository": "library/nginx", "tag": "1.25"}, "registry": {"server": "index.docker.io"}, "vulnerabilities": []}}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && crate::common::contains(head, "aquasecurity.github.io")
        && (has(head, "kind") || has(head, "apiVersion"))
    {
        95
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Trivy Operator")?;
    let mut reports: Vec<&Value> = Vec::new();
    collect(&doc, &mut reports, 0);
    if reports.is_empty() && !doc.is_object() && !doc.is_array() {
        return Err(Error::Refused("not Trivy Operator reports".into()));
    }
    let mut out = Out::new(emit);
    out.scan(Some("trivy-operator"))?;
    for (i, r) in reports.into_iter().enumerate() {
        let place = format!("reports[{i}]");
        let kind = s(r, &["kind"]).unwrap_or("");
        let rep = &r["report"];
        match kind {
            "VulnerabilityReport" => {
                let key = out.asset(image(rep))?;
                for (vi, v) in arr(rep, "vulnerabilities").iter().enumerate() {
                    match vuln(v) {
                        Ok(e) => out.exposure(key, e)?,
                        Err(m) => out.issue(format!("{place}.report.vulnerabilities[{vi}]"), m)?,
                    }
                }
            }
            "ExposedSecretReport" => {
                let key = out.asset(image(rep))?;
                for (si, x) in arr(rep, "secrets").iter().enumerate() {
                    let Some(rule) = s(x, &["ruleID"]) else {
                        out.issue(
                            format!("{place}.report.secrets[{si}]"),
                            "secret without ruleID",
                        )?;
                        continue;
                    };
                    let sev = Severity::parse(s(x, &["severity"]).unwrap_or("unknown"))
                        .unwrap_or_default();
                    let mut e =
                        Exposure::new(ExposureKind::Secret, s(x, &["title"]).unwrap_or(rule), sev);
                    e.rule_id = Some(rule.to_string());
                    e.location = Some(Location {
                        path: s(x, &["target"]).map(str::to_string),
                        line: None,
                        resource: None,
                    });
                    e.evidence = s(x, &["match"]).map(str::to_string);
                    out.exposure(key, e)?;
                }
            }
            "ConfigAuditReport"
            | "ClusterConfigAuditReport"
            | "RbacAssessmentReport"
            | "ClusterRbacAssessmentReport"
            | "InfraAssessmentReport"
            | "ClusterInfraAssessmentReport" => {
                let (asset, resource) = k8s(r);
                let key = out.asset(asset)?;
                for (ci, c) in arr(rep, "checks").iter().enumerate() {
                    if c["success"].as_bool() != Some(false) {
                        continue;
                    }
                    let Some(id) = s(c, &["checkID"]).or(s(c, &["id"])) else {
                        out.issue(
                            format!("{place}.report.checks[{ci}]"),
                            "check without checkID",
                        )?;
                        continue;
                    };
                    let sev = Severity::parse(s(c, &["severity"]).unwrap_or("unknown"))
                        .unwrap_or_default();
                    let mut e = Exposure::new(
                        ExposureKind::Misconfiguration,
                        s(c, &["title"]).unwrap_or(id),
                        sev,
                    );
                    e.rule_id = Some(id.to_string());
                    e.location = Some(Location {
                        path: None,
                        line: None,
                        resource: Some(resource.clone()),
                    });
                    e.description = s(c, &["description"]).map(str::to_string);
                    e.solution = s(c, &["remediation"]).map(str::to_string);
                    let msgs: Vec<&str> = arr(c, "messages")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    e.evidence = (!msgs.is_empty()).then(|| msgs.join("\n"));
                    out.exposure(key, e)?;
                }
            }
            "ClusterComplianceReport" => {
                let key = out.asset(cloud_asset("k8s://cluster", Some("kubernetes cluster")))?;
                let report_id = s(r, &["status", "summaryReport", "id"])
                    .or(s(r, &["metadata", "name"]))
                    .unwrap_or("compliance");
                for c in arr(&r["status"]["summaryReport"], "controlCheck") {
                    let fails = c["totalFail"].as_u64().unwrap_or(0);
                    if fails == 0 {
                        continue;
                    }
                    let id = s(c, &["id"]).unwrap_or("?");
                    let sev = Severity::parse(s(c, &["severity"]).unwrap_or("unknown"))
                        .unwrap_or_default();
                    let mut e = Exposure::new(
                        ExposureKind::Misconfiguration,
                        s(c, &["name"]).unwrap_or(id),
                        sev,
                    );
                    e.rule_id = Some(format!("{report_id}:{id}"));
                    e.location = Some(Location {
                        path: None,
                        line: None,
                        resource: Some("cluster".into()),
                    });
                    e.evidence = Some(format!("{fails} failing check(s)"));
                    out.exposure(key, e)?;
                }
            }
            "SbomReport" | "ClusterSbomReport" => {}
            other => out.issue(place, format!("unsupported report kind {other:?}"))?,
        }
    }
    Ok(())
}

/// Reports from one report, a list, a `List` with `items`, or a dict of lists.
fn collect<'v>(v: &'v Value, out: &mut Vec<&'v Value>, depth: usize) {
    if depth > 4 {
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect(x, out, depth + 1)),
        Value::Object(m) => {
            if m.contains_key("kind") && m.contains_key("apiVersion") && !m.contains_key("items") {
                out.push(v);
            } else if let Some(items) = m.get("items") {
                collect(items, out, depth + 1);
            } else {
                m.values().for_each(|x| collect(x, out, depth + 1));
            }
        }
        _ => {}
    }
}

fn image(rep: &Value) -> Asset {
    let server = s(rep, &["registry", "server"]);
    let repo = s(rep, &["artifact", "repository"]).unwrap_or("image");
    let tag = s(rep, &["artifact", "tag"]);
    let reference = match (server, tag) {
        (Some(sv), Some(t)) => format!("{sv}/{repo}:{t}"),
        (Some(sv), None) => format!("{sv}/{repo}"),
        (None, Some(t)) => format!("{repo}:{t}"),
        (None, None) => repo.to_string(),
    };
    let mut a = image_asset(Some(&reference), s(rep, &["artifact", "digest"]));
    a.os = s(rep, &["os", "family"]).map(|f| {
        format!("{f} {}", s(rep, &["os", "name"]).unwrap_or(""))
            .trim()
            .to_string()
    });
    a
}

fn k8s(r: &Value) -> (Asset, String) {
    let l = &r["metadata"]["labels"];
    let kind = s(l, &["trivy-operator.resource.kind"]).unwrap_or("Resource");
    let name = s(l, &["trivy-operator.resource.name"])
        .or(s(r, &["metadata", "name"]))
        .unwrap_or("unknown");
    let ns = s(l, &["trivy-operator.resource.namespace"]).or(s(r, &["metadata", "namespace"]));
    let id = match ns {
        Some(n) => format!("k8s://{n}/{kind}/{name}"),
        None => format!("k8s://cluster/{kind}/{name}"),
    };
    let display = match ns {
        Some(n) => format!("{n}/{kind}/{name}"),
        None => format!("{kind}/{name}"),
    };
    (cloud_asset(&id, Some(&display)), format!("{kind}/{name}"))
}

fn vuln(v: &Value) -> std::result::Result<Exposure, String> {
    let id = s(v, &["vulnerabilityID"]).ok_or("missing vulnerabilityID")?;
    let pkg = s(v, &["resource"]).ok_or("missing resource (package)")?;
    let sev = crate::common::severity(s(v, &["severity"]))?;
    let mut e = Exposure::new(
        ExposureKind::Vulnerability,
        s(v, &["title"]).unwrap_or(id),
        sev,
    );
    e.add_vuln_id(id);
    e.package = Some(package(
        pkg,
        s(v, &["installedVersion"]),
        s(v, &["fixedVersion"]),
        s(v, &["pkgType"]),
        s(v, &["pkgPath"]).or(s(v, &["target"])),
    ));
    e.cvss.extend(cvss(
        s(v, &["cvss", "nvd", "V3Vector"]),
        num(v, "score"),
        "trivy",
    ));
    e.description = s(v, &["description"]).map(str::to_string);
    e.references
        .extend(s(v, &["primaryLink"]).map(str::to_string));
    e.references.extend(
        arr(v, "links")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    Ok(e)
}
