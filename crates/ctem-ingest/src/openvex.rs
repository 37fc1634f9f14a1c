//! OpenVEX documents (v0.0.x and v0.2.0). Each statement says how one vulnerability stands
//! for some products. Every product is an asset (OCI purls become container images, other
//! products applications named by their id); each (product, subcomponent) pair becomes one
//! vulnerability exposure whose package is the subcomponent (or the product, when the
//! product is itself a package purl). The VEX status and justification are kept in the
//! solution (`VEX status: not_affected (vulnerable_code_not_present)`), and the status
//! decides the exposure's: `fixed` closes it, `not_affected` makes it `false_positive` (the note,
//! with its justification, is the reason), `affected` and `under_investigation` leave it open; the store
//! applies the decision to the matching stored exposure too (same asset, CVE and package).
//! A document speaks only for its statements ([`ctem_model::Coverage::Statements`]): importing
//! one never closes what it does not mention. Severity is unknown: VEX does not carry one.

use std::io::BufRead;

use ctem_model::{Exposure, ExposureKind, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, product_asset, purl_package, read_json, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "openvex",
    kind: FormatKind::Scanner,
    description: "OpenVEX documents (statements per vulnerability and product)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex-0", "author": "Example", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": []}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head) && has(head, "statements") && crate::common::contains(head, "openvex") {
        95
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "OpenVEX")?;
    let Some(statements) = doc.get("statements").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `statements` array: not an OpenVEX document".into(),
        ));
    };
    let mut out = Out::new(emit);
    out.scan_covering(
        s(&doc, &["author"]).map(|a| a.split(" <").next().unwrap_or(a)),
        ctem_model::Coverage::Statements,
    )?;
    for (i, st) in statements.iter().enumerate() {
        let place = format!("statements[{i}]");
        let vid = s(st, &["vulnerability", "name"])
            .or(s(st, &["vulnerability", "@id"]))
            .or(s(st, &["vulnerability"]));
        let (Some(vid), Some(status)) = (vid, s(st, &["status"])) else {
            out.issue(place, "statement without vulnerability or status")?;
            continue;
        };
        let note = format!(
            "VEX status: {status}{}{}{}",
            s(st, &["justification"])
                .map(|j| format!(" ({j})"))
                .unwrap_or_default(),
            s(st, &["impact_statement"])
                .map(|j| format!(": {j}"))
                .unwrap_or_default(),
            s(st, &["action_statement"])
                .map(|j| format!("; action: {j}"))
                .unwrap_or_default(),
        );
        let products = arr(st, "products");
        if products.is_empty() {
            out.issue(place, "statement without products")?;
            continue;
        }
        for p in products {
            let Some(pid) = s(p, &["@id"]).or(p.as_str()) else {
                out.issue(format!("{place}.products"), "product without @id")?;
                continue;
            };
            let key = out.asset(product_asset(pid))?;
            let subs: Vec<&str> = arr(p, "subcomponents")
                .iter()
                .filter_map(|c| s(c, &["@id"]).or(c.as_str()))
                .collect();
            let pkgs: Vec<Option<&str>> = if subs.is_empty() {
                vec![(!pid.starts_with("pkg:oci/")).then_some(pid)]
            } else {
                subs.into_iter().map(Some).collect()
            };
            for sub in pkgs {
                let mut e = Exposure::new(ExposureKind::Vulnerability, vid, Severity::Unknown);
                e.add_vuln_id(vid);
                for a in arr(&st["vulnerability"], "aliases")
                    .iter()
                    .filter_map(Value::as_str)
                {
                    e.add_vuln_id(a);
                }
                e.package = sub.and_then(purl_package);
                if let Some(p) = &e.package {
                    e.title = format!("{vid} in {}", p.name);
                }
                e.description = s(st, &["vulnerability", "description"]).map(str::to_string);
                e.solution = Some(note.clone());
                // the store applies it to this exposure and to matching stored ones
                e.status = crate::common::vex_status(status);
                out.exposure(key, e)?;
            }
        }
    }
    Ok(())
}
