//! Grype JSON (`grype -o json`, every schema from 0.2x to today, and `grype explain` input).
//! The scanned source is one asset: a container image (user input reference and manifest
//! digest), or a directory / file named by its path. Each match becomes a package
//! vulnerability: the matched id plus related ids (CVE aliases), the artifact as the package
//! (first location as its path), fix versions, CVSS entries and the data source as reference.

use std::io::BufRead;

use ctem_model::{AssetKind, Exposure, ExposureKind};
use serde_json::Value;

use crate::common::{
    Out, arr, cvss, has, image_asset, is_json, named_asset, num, package, read_json, s, severity,
};
use crate::{Emit, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "grype",
    kind: FormatKind::Scanner,
    description: "Grype JSON (matches with vulnerability, artifact and source)",
    probe,
    parse,
    parse_slice: None,
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "matches")
        && (has(head, "artifact") || has(head, "descriptor") || has(head, "source"))
    {
        if has(head, "descriptor") || has(head, "matchDetails") {
            90
        } else {
            60
        }
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Grype")?;
    let Some(matches) = doc.get("matches").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `matches` array: not a Grype report".into(),
        ));
    };
    let mut out = Out::new(emit);
    let src = &doc["source"];
    let asset = match (s(src, &["type"]), &src["target"]) {
        (Some("image"), t) => image_asset(
            s(t, &["userInput"]).or(s(t, &["tags", "0"])),
            s(t, &["manifestDigest"]).or(s(t, &["imageID"])),
        ),
        (_, Value::String(t)) => named_asset(AssetKind::Application, t.trim_matches('"')),
        (_, t) => named_asset(
            AssetKind::Application,
            s(t, &["path"])
                .or(s(t, &["userInput"]))
                .unwrap_or("grype scan"),
        ),
    };
    let mut asset = asset;
    if let Some(d) = s(&doc, &["distro", "name"]) {
        asset.os = Some(
            format!("{d} {}", s(&doc, &["distro", "version"]).unwrap_or(""))
                .trim()
                .to_string(),
        );
    }
    let key = out.asset(asset)?;
    for (i, m) in matches.iter().enumerate() {
        match one(m) {
            Ok(e) => out.exposure(key, e)?,
            Err(msg) => out.issue(format!("matches[{i}]"), msg)?,
        }
    }
    Ok(())
}

fn one(m: &Value) -> std::result::Result<Exposure, String> {
    let v = &m["vulnerability"];
    let a = &m["artifact"];
    let id = s(v, &["id"]).ok_or("missing vulnerability.id")?;
    let name = s(a, &["name"]).ok_or("missing artifact.name")?;
    let sev = severity(s(v, &["severity"]))?;
    let mut e = Exposure::new(ExposureKind::Vulnerability, format!("{id} in {name}"), sev);
    e.add_vuln_id(id);
    for r in arr(m, "relatedVulnerabilities") {
        if let Some(r) = s(r, &["id"]) {
            e.add_vuln_id(r);
        }
    }
    let fixed: Vec<&str> = arr(&v["fix"], "versions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    e.package = Some(package(
        name,
        s(a, &["version"]),
        (!fixed.is_empty()).then(|| fixed.join(", ")).as_deref(),
        s(a, &["type"]),
        arr(a, "locations").first().and_then(|l| s(l, &["path"])),
    ));
    e.description = s(v, &["description"])
        .or_else(|| {
            arr(m, "relatedVulnerabilities")
                .iter()
                .find_map(|r| s(r, &["description"]))
        })
        .map(str::to_string);
    for c in arr(v, "cvss").iter().chain(
        arr(m, "relatedVulnerabilities")
            .iter()
            .flat_map(|r| arr(r, "cvss")),
    ) {
        let src = s(c, &["source"]).unwrap_or("grype");
        if let Some(x) = cvss(s(c, &["vector"]), num(&c["metrics"], "baseScore"), src) {
            e.cvss.push(x);
        }
    }
    if !fixed.is_empty() {
        e.solution = Some(format!("upgrade {name} to {}", fixed.join(" or ")));
    }
    e.references
        .extend(s(v, &["dataSource"]).map(str::to_string));
    e.references.extend(
        arr(v, "urls")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    e.references.dedup();
    Ok(e)
}
