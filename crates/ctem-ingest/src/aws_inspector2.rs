//! Amazon Inspector v2 findings JSON (`aws inspector2 list-findings`, `{"findings": [...]}`):
//! package vulnerabilities, code vulnerabilities (Lambda) and network reachability findings.
//! Every resource of a finding is its own asset (one exposure per affected resource): ECR
//! images by repository and digest, EC2 instances and Lambda functions by ARN (cloud id).
//! Each vulnerable package of a package finding is its own exposure. Closed and suppressed
//! findings are left out.

use std::io::BufRead;

use ctem_model::{Asset, Exposure, ExposureKind, Identifier, IdentifierKind, Location};
use serde_json::Value;

use crate::common::{
    Out, arr, cloud_asset, cvss, has, image_asset, is_json, num, package, read_json, s, severity,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "aws_inspector2",
    kind: FormatKind::Scanner,
    description: "Amazon Inspector v2 findings JSON (packages, Lambda code, network reachability)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(r#"{"findings": []}"#),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "findings")
        && (has(head, "findingArn") || crate::common::contains(head, "inspector2"))
    {
        92
    } else if is_json(head)
        && crate::trim_ascii_bom(head).starts_with(b"{")
        && has(head, "findings")
        && head.len() < 64
    {
        40
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Amazon Inspector")?;
    let Some(findings) = doc.get("findings").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `findings` array: not an Amazon Inspector v2 export".into(),
        ));
    };
    let mut out = Out::new(emit);
    for (i, f) in findings.iter().enumerate() {
        let place = format!("findings[{i}]");
        if matches!(s(f, &["status"]), Some("CLOSED" | "SUPPRESSED")) {
            continue;
        }
        let resources = arr(f, "resources");
        if resources.is_empty() {
            out.issue(place, "finding without resources")?;
            continue;
        }
        let base = match finding(f) {
            Ok(e) => e,
            Err(m) => {
                out.issue(place, m)?;
                continue;
            }
        };
        let pkgs = arr(&f["packageVulnerabilityDetails"], "vulnerablePackages");
        for r in resources {
            let key = out.asset(resource(r))?;
            if pkgs.is_empty() {
                out.exposure(key, base.clone())?;
            }
            for p in pkgs {
                let mut e = base.clone();
                if let Some(n) = s(p, &["name"]) {
                    let ver = match (s(p, &["version"]), s(p, &["release"])) {
                        (Some(v), Some(r)) => Some(format!("{v}-{r}")),
                        (v, _) => v.map(str::to_string),
                    };
                    e.package = Some(package(
                        n,
                        ver.as_deref(),
                        s(p, &["fixedInVersion"]).filter(|x| *x != "NotAvailable"),
                        s(p, &["packageManager"])
                            .map(|x| x.to_ascii_lowercase())
                            .as_deref(),
                        s(p, &["filePath"]),
                    ));
                    e.solution = s(p, &["remediation"]).map(str::to_string).or(e.solution);
                }
                out.exposure(key, e)?;
            }
        }
    }
    Ok(())
}

fn finding(f: &Value) -> std::result::Result<Exposure, String> {
    let title = s(f, &["title"]).ok_or("missing title")?;
    let sev = match s(f, &["severity"]) {
        Some("UNTRIAGED") => ctem_model::Severity::Unknown,
        w => severity(w)?,
    };
    let kind = match s(f, &["type"]) {
        Some("NETWORK_REACHABILITY") => ExposureKind::Misconfiguration,
        _ => ExposureKind::Vulnerability,
    };
    let mut e = Exposure::new(kind, title, sev);
    let d = &f["packageVulnerabilityDetails"];
    if let Some(id) = s(d, &["vulnerabilityId"]) {
        e.add_vuln_id(id);
    }
    for r in arr(d, "relatedVulnerabilities")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_vuln_id(r);
    }
    let code = &f["codeVulnerabilityDetails"];
    for c in arr(code, "cwes").iter().filter_map(Value::as_str) {
        e.add_cwe(c);
    }
    if code.is_object() {
        e.rule_id = s(code, &["detectorId"])
            .or(s(code, &["ruleId"]))
            .map(str::to_string);
        e.location = Some(Location {
            path: s(code, &["filePath", "filePath"]).map(str::to_string),
            line: code["filePath"]["startLine"].as_u64().map(|l| l as u32),
            resource: None,
        });
        e.tool_key = s(f, &["findingArn"]).map(str::to_string);
    }
    if e.rule_id.is_none() && e.cves.is_empty() && e.advisories.is_empty() {
        e.rule_id = s(f, &["findingArn"]).map(str::to_string);
    }
    let adj = &f["inspectorScoreDetails"]["adjustedCvss"];
    e.cvss.extend(cvss(
        s(adj, &["scoringVector"]),
        num(adj, "score"),
        s(adj, &["scoreSource"]).unwrap_or("inspector"),
    ));
    e.description = s(f, &["description"]).map(str::to_string);
    e.solution = s(f, &["remediation", "recommendation", "text"])
        .filter(|x| *x != "None Provided")
        .map(str::to_string);
    e.references
        .extend(s(d, &["sourceUrl"]).map(str::to_string));
    e.references.extend(
        arr(d, "referenceUrls")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    e.first_seen = crate::common::time(s(f, &["firstObservedAt"]));
    e.last_seen = crate::common::time(s(f, &["lastObservedAt"]));
    Ok(e)
}

fn resource(r: &Value) -> Asset {
    let id = s(r, &["id"]).unwrap_or("aws resource");
    let det = &r["details"];
    match s(r, &["type"]) {
        Some("AWS_ECR_CONTAINER_IMAGE") => {
            let img = &det["awsEcrContainerImage"];
            let repo = s(img, &["repositoryName"]);
            let tag = arr(img, "imageTags")
                .iter()
                .filter_map(Value::as_str)
                .next();
            let reference = match (s(img, &["registry"]), repo, tag) {
                (Some(reg), Some(rp), Some(t)) => Some(format!(
                    "{reg}.dkr.ecr.{}.amazonaws.com/{rp}:{t}",
                    s(r, &["region"]).unwrap_or("aws")
                )),
                _ => None,
            };
            let mut a = image_asset(reference.as_deref(), s(img, &["imageHash"]));
            a.add_identifier(Identifier::new(IdentifierKind::CloudId, id));
            a.os = s(img, &["platform"]).map(str::to_string);
            a
        }
        Some("AWS_EC2_INSTANCE") => {
            let ec2 = &det["awsEc2Instance"];
            let mut a = cloud_asset(
                id,
                s(ec2, &["keyName"])
                    .and(None)
                    .or(Some(id.rsplit('/').next().unwrap_or(id))),
            );
            a.kind = ctem_model::AssetKind::Host;
            for ip in arr(ec2, "ipV4Addresses")
                .iter()
                .chain(arr(ec2, "ipV6Addresses"))
                .filter_map(Value::as_str)
            {
                if let Some(i) = Identifier::ip(ip) {
                    a.add_identifier(i);
                }
            }
            a.os = s(ec2, &["platform"]).map(str::to_string);
            a
        }
        _ => cloud_asset(
            id,
            s(&det["awsLambdaFunction"], &["functionName"])
                .or(Some(id.rsplit(':').next().unwrap_or(id))),
        ),
    }
}
