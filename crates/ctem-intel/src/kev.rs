//! CISA Known Exploited Vulnerabilities catalog (JSON).
//!
//! Accepts the catalog object (`{"vulnerabilities": [...]}`), a bare array of entries or one
//! entry. `knownRansomwareCampaignUse` and `cwes` are optional (older catalogs lack them). An
//! entry without a valid `cveID` or `dateAdded` is skipped with an issue.

use crate::error::{Error, Result};
use crate::util::{Issue, maybe_gunzip, parse_date};
use ctem_model::intel::{KevEntry, RansomwareUse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const FORMAT: &str = "kev";

/// The catalog's header fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KevInfo {
    pub title: Option<String>,
    pub catalog_version: Option<String>,
    pub date_released: Option<String>,
    /// The `count` the file claims (compare with `entries.len()`).
    pub count: Option<u64>,
}

/// A parsed KEV catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KevCatalog {
    pub info: KevInfo,
    pub entries: Vec<KevEntry>,
    pub issues: Vec<Issue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Catalog {
        #[serde(default)]
        title: Option<String>,
        #[serde(default, rename = "catalogVersion")]
        catalog_version: Option<String>,
        #[serde(default, rename = "dateReleased")]
        date_released: Option<String>,
        #[serde(default)]
        count: Option<u64>,
        vulnerabilities: Vec<Value>,
    },
    List(Vec<Value>),
    One(serde_json::Map<String, Value>),
}

/// Parses a KEV catalog (plain or gzipped JSON).
pub fn parse_kev(bytes: &[u8]) -> Result<KevCatalog> {
    let bytes = maybe_gunzip(bytes)?;
    let doc: Doc = serde_json::from_slice(&bytes).map_err(|e| Error::json(FORMAT, &e))?;
    let (info, items) = match doc {
        Doc::Catalog {
            title,
            catalog_version,
            date_released,
            count,
            vulnerabilities,
        } => (
            KevInfo {
                title,
                catalog_version,
                date_released,
                count,
            },
            vulnerabilities,
        ),
        Doc::List(items) => (KevInfo::default(), items),
        Doc::One(map) => {
            if !map.contains_key("cveID") {
                return Err(Error::field(
                    FORMAT,
                    "vulnerabilities",
                    "missing: neither a catalog nor an entry with `cveID`",
                ));
            }
            (KevInfo::default(), vec![Value::Object(map)])
        }
    };
    let mut cat = KevCatalog {
        info,
        entries: Vec::with_capacity(items.len()),
        issues: Vec::new(),
    };
    for (i, item) in items.iter().enumerate() {
        match entry(item) {
            Ok(e) => cat.entries.push(e),
            Err(msg) => cat
                .issues
                .push(Issue::new(format!("vulnerabilities[{i}]"), msg)),
        }
    }
    Ok(cat)
}

fn entry(v: &Value) -> Result<KevEntry, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let cve_id = s("cveID").to_ascii_uppercase();
    if !crate::cve::is_cve_id(&cve_id) {
        return Err(format!("invalid or missing cveID `{}`", s("cveID")));
    }
    let date_added = parse_date(s("dateAdded"))
        .ok_or_else(|| format!("{cve_id}: invalid or missing dateAdded"))?;
    let ransomware = match s("knownRansomwareCampaignUse")
        .to_ascii_lowercase()
        .as_str()
    {
        "known" => Some(RansomwareUse::Known),
        "unknown" => Some(RansomwareUse::Unknown),
        _ => None,
    };
    let cwes = match v.get("cwes") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
        Some(Value::String(c)) => c
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    Ok(KevEntry {
        cve_id,
        vendor_project: s("vendorProject").to_string(),
        product: s("product").to_string(),
        vulnerability_name: s("vulnerabilityName").to_string(),
        date_added,
        short_description: s("shortDescription").to_string(),
        required_action: s("requiredAction").to_string(),
        due_date: parse_date(s("dueDate")),
        known_ransomware_campaign_use: ransomware,
        notes: s("notes").to_string(),
        cwes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_without_optional_fields_parses() {
        let doc = br#"{"vulnerabilities":[{"cveID":"cve-2021-44228","dateAdded":"2021-12-10",
            "vendorProject":"Apache","product":"Log4j2"}]}"#;
        let cat = parse_kev(doc).expect("parses");
        assert_eq!(cat.entries.len(), 1);
        assert_eq!(cat.entries[0].cve_id, "CVE-2021-44228");
        assert_eq!(cat.entries[0].known_ransomware_campaign_use, None);
        assert!(cat.entries[0].cwes.is_empty());
    }

    #[test]
    fn bad_entry_is_an_issue_not_an_error() {
        let doc = br#"{"vulnerabilities":[{"cveID":"nope","dateAdded":"2021-12-10"},
            {"cveID":"CVE-2021-1","dateAdded":"soon"}]}"#;
        let cat = parse_kev(doc).expect("parses");
        assert!(cat.entries.is_empty());
        assert_eq!(cat.issues.len(), 2);
        assert_eq!(cat.issues[1].record, "vulnerabilities[1]");
    }

    #[test]
    fn object_without_vulnerabilities_is_refused() {
        let err = parse_kev(br#"{"title":"x"}"#).expect_err("refused");
        assert!(err.to_string().contains("vulnerabilities"), "{err}");
    }
}
