//! Bounds on field sizes of what an intel file brings in, applied by [`crate::kind::import`]
//! to every parsed file before the caller stores it: feeds are third-party input, and a
//! 50 MB "description" or "domain" would otherwise be stored and held in memory.
//!
//! - An indicator whose value (or STIX pattern) is over [`Limits::value`] is dropped: a cut
//!   value would match something else.
//! - Free text (indicator, KEV and CVE descriptions, KEV notes and actions) over
//!   [`Limits::text`] is cut at a character boundary and ends with [`TRUNCATED`]; names
//!   (KEV vendor, product, vulnerability name) over [`Limits::name`] likewise.
//! - CVE ids are checked by shape and length where they are read ([`crate::cve::is_cve_id`]).
//!
//! Each cut or drop is an issue of the file, as a bad record is.

use ctem_model::intel::{CveRecord, Indicator, KevEntry};

use crate::kind::IntelImport;
use crate::util::Issue;

/// The longest issue record or message kept.
const ISSUE_TEXT: usize = 1 << 10;

/// What a cut text ends with.
pub const TRUNCATED: &str = " [truncated by ctem]";

/// Field size limits, in bytes (labels: in items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// An indicator's value or pattern, a label, an external id.
    pub value: usize,
    /// Names: KEV vendor, product and vulnerability name.
    pub name: usize,
    /// Descriptions, notes, required actions.
    pub text: usize,
    /// Labels of one indicator.
    pub labels: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            value: 8 << 10,
            name: 4 << 10,
            text: 64 << 10,
            labels: 256,
        }
    }
}

/// Cuts `v` to at most `max` bytes with the marker; says so in `said`.
fn cut(field: &str, max: usize, v: &mut String, said: &mut Vec<String>) {
    if v.len() <= max {
        return;
    }
    said.push(format!("{field} of {} bytes cut to {max}", v.len()));
    let mut end = max.saturating_sub(TRUNCATED.len());
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    v.truncate(end);
    v.push_str(TRUNCATED);
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

impl Limits {
    /// Applies the limits to a parsed file, adding an issue per record cut or dropped; the
    /// issues themselves are cut to 1 KiB (a parser may quote the value it refused).
    pub fn bound(&self, import: &mut IntelImport) {
        self.records(import);
        let issues = match import {
            IntelImport::Iocs(p) => &mut p.issues,
            IntelImport::Stix(b) => &mut b.issues,
            IntelImport::Misp(m) => &mut m.issues,
            IntelImport::Kev(k) => &mut k.issues,
            IntelImport::Cve(p) => &mut p.issues,
            IntelImport::Epss(e) => &mut e.issues,
            IntelImport::Attack(a) => &mut a.issues,
        };
        for i in issues {
            let mut said = Vec::new();
            cut("record", ISSUE_TEXT, &mut i.record, &mut said);
            cut("message", ISSUE_TEXT, &mut i.message, &mut said);
        }
    }

    fn records(&self, import: &mut IntelImport) {
        match import {
            IntelImport::Iocs(p) => self.indicators(&mut p.records, &mut p.issues),
            IntelImport::Stix(b) => self.indicators(&mut b.indicators, &mut b.issues),
            IntelImport::Misp(m) => self.indicators(&mut m.indicators, &mut m.issues),
            IntelImport::Kev(k) => {
                for e in &mut k.entries {
                    self.kev(e, &mut k.issues);
                }
            }
            IntelImport::Cve(p) => {
                for r in &mut p.records {
                    self.cve(r, &mut p.issues);
                }
            }
            IntelImport::Epss(_) | IntelImport::Attack(_) => {}
        }
    }

    fn indicators(&self, list: &mut Vec<Indicator>, issues: &mut Vec<Issue>) {
        list.retain_mut(|i| {
            let place = format!("indicator {} {:?}", i.kind, clip(&i.value));
            let too_long = |v: &Option<String>| v.as_ref().is_some_and(|x| x.len() > self.value);
            if i.value.len() > self.value || too_long(&i.pattern) {
                let n = i.value.len().max(i.pattern.as_ref().map_or(0, String::len));
                issues.push(Issue::new(
                    place,
                    format!("value of {n} bytes over {} dropped", self.value),
                ));
                return false;
            }
            let mut said = Vec::new();
            if let Some(d) = &mut i.description {
                cut("description", self.text, d, &mut said);
            }
            if let Some(n) = &mut i.pattern_note {
                cut("pattern note", self.text, n, &mut said);
            }
            if too_long(&i.external_id) || too_long(&i.category) {
                i.external_id = i.external_id.take().filter(|x| x.len() <= self.value);
                i.category = i.category.take().filter(|x| x.len() <= self.value);
                said.push("an oversized external id or category dropped".into());
            }
            let before = i.labels.len();
            i.labels.retain(|l| l.len() <= self.value);
            i.labels.truncate(self.labels);
            if i.labels.len() < before {
                said.push(format!("{} labels dropped", before - i.labels.len()));
            }
            if !said.is_empty() {
                issues.push(Issue::new(place, said.join("; ")));
            }
            true
        });
    }

    fn kev(&self, e: &mut KevEntry, issues: &mut Vec<Issue>) {
        let mut said = Vec::new();
        cut("vendor", self.name, &mut e.vendor_project, &mut said);
        cut("product", self.name, &mut e.product, &mut said);
        cut("name", self.name, &mut e.vulnerability_name, &mut said);
        cut(
            "description",
            self.text,
            &mut e.short_description,
            &mut said,
        );
        cut(
            "required action",
            self.text,
            &mut e.required_action,
            &mut said,
        );
        cut("notes", self.text, &mut e.notes, &mut said);
        if !said.is_empty() {
            issues.push(Issue::new(e.cve_id.clone(), said.join("; ")));
        }
    }

    fn cve(&self, r: &mut CveRecord, issues: &mut Vec<Issue>) {
        let mut said = Vec::new();
        for d in &mut r.descriptions {
            cut("description", self.text, &mut d.value, &mut said);
        }
        if !said.is_empty() {
            issues.push(Issue::new(r.id.clone(), said.join("; ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{IntelKind, import};

    #[test]
    fn an_oversized_indicator_is_dropped_and_a_long_description_cut() {
        let long = format!("http://evil.example/{}", "a".repeat(1 << 20));
        let indicator = |id: &str, url: &str, description: &str| {
            serde_json::json!({"type": "indicator", "spec_version": "2.1", "id": id,
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": format!("[url:value = '{url}']"), "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z", "description": description})
        };
        let bundle = serde_json::json!({"type": "bundle", "id": "bundle--0", "objects": [
            indicator("indicator--1", "http://ok.example/", &"d".repeat(1 << 20)),
            indicator("indicator--2", &long, "x"),
            serde_json::json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--3",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": format!("[file:name = '{}']", "n".repeat(1 << 20)),
                "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}),
        ]});
        let bytes = serde_json::to_vec(&bundle).expect("json");
        let got = import(Some(IntelKind::Stix), &bytes, "feed.json").expect("reads");
        let IntelImport::Stix(b) = got else {
            panic!("a STIX bundle")
        };
        let values: Vec<&str> = b.indicators.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(
            values,
            ["http://ok.example/"],
            "the oversized URL is dropped"
        );
        let d = b.indicators[0].description.as_deref().unwrap_or("");
        assert!(d.len() <= 64 << 10 && d.ends_with(TRUNCATED), "{}", d.len());
        let said: Vec<&str> = b.issues.iter().map(|i| i.message.as_str()).collect();
        assert!(said.iter().any(|m| m.contains("dropped")), "{said:?}");
        assert!(
            said.iter().any(|m| m.contains("description of")),
            "{said:?}"
        );
        // an issue quotes a clip of what it is about, never the megabyte
        let lens: Vec<usize> = said.iter().map(|m| m.len()).collect();
        assert!(lens.iter().all(|n| *n <= 1 << 10), "{lens:?}");
    }
}
