//! CSAF 2.0 documents (VEX profile and security advisories). Products come from the
//! product tree (branches, full product names, relationships); each product named in a
//! vulnerability's `product_status` is an asset (OCI purls container images, others
//! applications named by the product name), and gets one vulnerability exposure whose
//! package is the product's purl when it has one. The status list it came from
//! (`known_affected`, `known_not_affected`, `fixed`, `under_investigation`, ...) and the
//! matching threat or remediation text are kept in the solution, and the status list decides
//! the exposure's status: `fixed`, `first_fixed` and `recommended` close it,
//! `known_not_affected` makes it `false_positive` (the note is the reason), the affected and
//! `under_investigation` lists leave it open; the store applies the decision to the matching
//! stored exposure too. A document speaks only for the (product, vulnerability) pairs it
//! states ([`ctem_model::Coverage::Statements`]): a second advisory never closes the first
//! one's. Severity from the product's CVSS score (v3 base severity, else v2 score).
//! CSAF versions other than 2.x are refused.

use std::collections::HashMap;
use std::io::BufRead;

use ctem_model::{Exposure, ExposureKind, Severity};
use serde_json::Value;

use crate::common::{Out, arr, cvss, has, is_json, num, product_asset, purl_package, read_json, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "csaf",
    kind: FormatKind::Scanner,
    description: "CSAF 2.0 VEX and security advisories (product status per vulnerability)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"{"document": {"category": "csaf_vex", "csaf_version": "2.0", "title": "no vulnerabilities", "publisher": {"category": "vendor", "name": "Example", "namespace": "https://example.com"}}, "vulnerabilities": []}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head) && has(head, "csaf_version") {
        95
    } else if is_json(head) && has(head, "product_tree") && has(head, "document") {
        80
    } else {
        0
    }
}

const STATUSES: [&str; 8] = [
    "known_affected",
    "first_affected",
    "last_affected",
    "under_investigation",
    "known_not_affected",
    "fixed",
    "first_fixed",
    "recommended",
];

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "CSAF")?;
    let version = s(&doc, &["document", "csaf_version"]);
    match version {
        Some(v) if v.starts_with("2.") => {}
        Some(v) => {
            return Err(Error::Refused(format!(
                "CSAF version {v} is not supported (2.x is)"
            )));
        }
        None => {
            return Err(Error::Refused(
                "no document.csaf_version: not a CSAF document".into(),
            ));
        }
    }
    let mut products: HashMap<String, (String, Option<String>)> = HashMap::new();
    collect(&doc["product_tree"], &mut products);
    let mut out = Out::new(emit);
    out.scan_covering(
        s(&doc, &["document", "publisher", "name"]),
        ctem_model::Coverage::Statements,
    )?;
    for (i, v) in arr(&doc, "vulnerabilities").iter().enumerate() {
        let place = format!("vulnerabilities[{i}]");
        let Some(id) =
            s(v, &["cve"]).or_else(|| arr(v, "ids").first().and_then(|x| s(x, &["text"])))
        else {
            out.issue(place, "vulnerability without cve or ids")?;
            continue;
        };
        let title = s(v, &["title"]).unwrap_or(id);
        for status in STATUSES {
            for pid in arr(&v["product_status"], status)
                .iter()
                .filter_map(Value::as_str)
            {
                let (name, purl) = products
                    .get(pid)
                    .cloned()
                    .unwrap_or_else(|| (pid.to_string(), None));
                let key = out.asset(product_asset(
                    purl.as_deref()
                        .filter(|p| p.starts_with("pkg:oci/"))
                        .unwrap_or(&name),
                ))?;
                let score = arr(v, "scores")
                    .iter()
                    .find(|sc| arr(sc, "products").iter().any(|p| p.as_str() == Some(pid)));
                let v3 = score.map(|x| &x["cvss_v3"]).filter(|x| x.is_object());
                let v2 = score.map(|x| &x["cvss_v2"]).filter(|x| x.is_object());
                let sev = match (v3, v2) {
                    (Some(c), _) => s(c, &["baseSeverity"])
                        .and_then(Severity::parse)
                        .or(num(c, "baseScore").map(Severity::from_cvss))
                        .unwrap_or_default(),
                    (None, Some(c)) => num(c, "baseScore")
                        .map(Severity::from_cvss)
                        .unwrap_or_default(),
                    _ => Severity::Unknown,
                };
                let mut e = Exposure::new(ExposureKind::Vulnerability, title, sev);
                e.add_vuln_id(id);
                if let Some(c) = s(v, &["cwe", "id"]) {
                    e.add_cwe(c);
                }
                for c in [v3, v2].into_iter().flatten() {
                    e.cvss
                        .extend(cvss(s(c, &["vectorString"]), num(c, "baseScore"), "csaf"));
                }
                e.package = purl
                    .as_deref()
                    .filter(|p| !p.starts_with("pkg:oci/"))
                    .and_then(purl_package);
                e.description = arr(v, "notes")
                    .iter()
                    .find(|n| s(n, &["category"]) == Some("description"))
                    .and_then(|n| s(n, &["text"]))
                    .map(str::to_string);
                let mentions = |x: &&Value| {
                    arr(x, "product_ids")
                        .iter()
                        .any(|p| p.as_str() == Some(pid))
                };
                let mut note = format!("VEX status: {status}");
                if let Some(f) = arr(v, "flags")
                    .iter()
                    .find(mentions)
                    .and_then(|f| s(f, &["label"]))
                {
                    note.push_str(&format!(" ({f})"));
                }
                if let Some(t) = arr(v, "threats")
                    .iter()
                    .find(mentions)
                    .and_then(|t| s(t, &["details"]))
                {
                    note.push_str(&format!(": {t}"));
                }
                if let Some(r) = arr(v, "remediations")
                    .iter()
                    .find(mentions)
                    .and_then(|r| s(r, &["details"]))
                {
                    note.push_str(&format!("\nremediation: {r}"));
                }
                e.solution = Some(note);
                e.status = crate::common::vex_status(status);
                e.references.extend(
                    arr(v, "references")
                        .iter()
                        .filter_map(|r| s(r, &["url"]))
                        .map(str::to_string),
                );
                out.exposure(key, e)?;
            }
        }
    }
    Ok(())
}

/// Product ids to (name, purl) from branches, full product names and relationships.
fn collect(tree: &Value, out: &mut HashMap<String, (String, Option<String>)>) {
    let mut add = |p: &Value| {
        if let Some(id) = s(p, &["product_id"]) {
            let purl = s(p, &["product_identification_helper", "purl"]).map(str::to_string);
            out.insert(
                id.to_string(),
                (s(p, &["name"]).unwrap_or(id).to_string(), purl),
            );
        }
    };
    for p in arr(tree, "full_product_names") {
        add(p);
    }
    if tree.get("product").is_some() {
        add(&tree["product"]);
    }
    for r in arr(tree, "relationships") {
        add(&r["full_product_name"]);
    }
    for b in arr(tree, "branches") {
        collect(b, out);
    }
}
