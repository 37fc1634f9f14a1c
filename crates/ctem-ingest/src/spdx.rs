//! SPDX 2.x SBOMs, JSON and tag-value. An SBOM lists components, not findings: the
//! document's subject becomes one asset (a container image when the described package is
//! an OCI image, else an application named by the document) and nothing else is emitted
//! (the model has no package inventory). SPDX 3 (JSON-LD `@graph`) is refused.

use std::io::BufRead;

use ctem_model::AssetKind;
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, read_all, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "spdx",
    kind: FormatKind::Inventory,
    description: "SPDX 2.x SBOM, JSON or tag-value (the described subject becomes an asset)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "app", "packages": []}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    let h = crate::trim_ascii_bom(head);
    if (is_json(h) && has(h, "spdxVersion")) || h.starts_with(b"SPDXVersion:") {
        95
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "SPDX")?;
    let body = crate::trim_ascii_bom(&buf);
    let mut inventory: Vec<ctem_model::Package> = Vec::new();
    let (version, name, subject) = if body.starts_with(b"{") {
        let doc: Value = serde_json::from_slice(body).map_err(Error::json)?;
        let described = arr(&doc, "documentDescribes")
            .first()
            .and_then(Value::as_str);
        let subject = arr(&doc, "packages")
            .iter()
            .find(|p| described.is_some() && s(p, &["SPDXID"]) == described)
            .map(|p| {
                let purl = arr(p, "externalRefs").iter().find_map(|r| {
                    s(r, &["referenceLocator"]).filter(|l| l.starts_with("pkg:oci/"))
                });
                (
                    s(p, &["name"]).unwrap_or("").to_string(),
                    purl.map(str::to_string),
                )
            });
        for p in arr(&doc, "packages") {
            if described.is_some() && s(p, &["SPDXID"]) == described {
                continue;
            }
            let Some(n) = s(p, &["name"]) else { continue };
            let purl = arr(p, "externalRefs")
                .iter()
                .find_map(|r| s(r, &["referenceLocator"]).filter(|l| l.starts_with("pkg:")));
            inventory.push(ctem_model::Package {
                name: n.to_string(),
                version: s(p, &["versionInfo"]).map(str::to_string),
                fixed_version: None,
                ecosystem: purl
                    .and_then(|u| u.strip_prefix("pkg:"))
                    .and_then(|u| u.split('/').next())
                    .map(str::to_string),
                path: None,
            });
        }
        (
            s(&doc, &["spdxVersion"]).map(str::to_string),
            s(&doc, &["name"]).map(str::to_string),
            subject,
        )
    } else {
        let text = String::from_utf8_lossy(body);
        let tag = |t: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(t))
                .map(|v| v.trim().to_string())
        };
        // tag-value: PackageName / PackageVersion pairs in order
        for l in text.lines() {
            if let Some(n) = l.strip_prefix("PackageName:") {
                inventory.push(ctem_model::Package {
                    name: n.trim().to_string(),
                    ..ctem_model::Package::default()
                });
            } else if let (Some(v), Some(last)) =
                (l.strip_prefix("PackageVersion:"), inventory.last_mut())
            {
                last.version = Some(v.trim().to_string());
            }
        }
        (tag("SPDXVersion:"), tag("DocumentName:"), None)
    };
    match version.as_deref() {
        Some(v) if v.starts_with("SPDX-2.") => {}
        Some(v) => {
            return Err(Error::Refused(format!(
                "{v} is not supported (SPDX 2.x is)"
            )));
        }
        None => {
            return Err(Error::Refused(
                "no spdxVersion: not an SPDX document".into(),
            ));
        }
    }
    let mut out = Out::new(emit);
    let asset = match subject {
        Some((_, Some(purl))) => crate::common::product_asset(&purl),
        Some((n, None)) if !n.is_empty() => named_asset(AssetKind::Application, &n),
        _ => named_asset(
            AssetKind::Application,
            name.as_deref().unwrap_or("spdx document"),
        ),
    };
    let key = out.asset(asset)?;
    for p in inventory {
        out.package(key, p)?;
    }
    Ok(())
}
