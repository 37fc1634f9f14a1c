//! Bounds on field sizes, applied to every record a parser emits through
//! [`crate::Format::read`]: a report is untrusted input, and a 50 MB "title" would otherwise be
//! stored (twice: the title column and the exposure's detail) and held in memory on the way.
//!
//! - Free text (titles, descriptions, solutions, evidence) longer than its limit is cut at a
//!   character boundary and ends with [`TRUNCATED`]; the record is kept, with an issue.
//! - Identifiers (CVE, advisory, rule and CWE ids, package names and versions, paths, asset
//!   identifiers) are never cut, since a cut id names something else: an oversized one is
//!   dropped with an issue, and a CVE id must have the shape `CVE-YYYY-NNNN...`
//!   ([`ctem_model::is_cve_id`]; a malformed one is kept as an advisory id when short).
//! - Lists (references, CVSS entries, ids) keep their first [`Limits::list`] items.
//!
//! The limits are a value ([`Limits`]) passed to [`crate::Format::read_with`]; the defaults
//! are far above anything the corpus of real reports holds.

use ctem_model::{Asset, Exposure, Package, Record, RecordIssue, Service};

/// The longest issue record or message kept.
const ISSUE_TEXT: usize = 1 << 10;

/// What a cut text ends with.
pub const TRUNCATED: &str = " [truncated by ctem]";

/// Field size limits, in bytes (lists: in items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Titles and asset names.
    pub title: usize,
    /// Descriptions, solutions, evidence.
    pub text: usize,
    /// One identifier: rule, advisory or CWE id, package name or version, path, tool key,
    /// asset identifier, service field, reference URL.
    pub identifier: usize,
    /// Items of one list (references, CVSS entries, CVE / advisory / CWE ids, CPEs).
    pub list: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            title: 4 << 10,
            text: 64 << 10,
            identifier: 4 << 10,
            list: 1024,
        }
    }
}

/// What bounding one record did, for its issue.
struct Notes<'a> {
    limits: &'a Limits,
    said: Vec<String>,
}

impl Notes<'_> {
    fn text(&mut self, field: &str, max: usize, v: &mut String) {
        if v.len() > max {
            self.said
                .push(format!("{field} of {} bytes cut to {max}", v.len()));
            let mut end = max.saturating_sub(TRUNCATED.len());
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            v.truncate(end);
            v.push_str(TRUNCATED);
        }
    }

    fn opt_text(&mut self, field: &str, max: usize, v: &mut Option<String>) {
        if let Some(x) = v {
            self.text(field, max, x);
        }
    }

    /// Drops an oversized identifier.
    fn ident(&mut self, field: &str, v: &mut Option<String>) {
        if v.as_ref().is_some_and(|x| x.len() > self.limits.identifier) {
            let n = v.take().map_or(0, |x| x.len());
            self.said.push(format!("{field} of {n} bytes dropped"));
        }
    }

    /// Drops oversized items and keeps the first `list` of the rest.
    fn idents(&mut self, field: &str, v: &mut Vec<String>) {
        let max = self.limits.identifier;
        let before = v.len();
        v.retain(|x| x.len() <= max);
        if v.len() < before {
            self.said.push(format!(
                "{} {field} over {max} bytes dropped",
                before - v.len()
            ));
        }
        self.list(field, v);
    }

    fn list<T>(&mut self, field: &str, v: &mut Vec<T>) {
        if v.len() > self.limits.list {
            self.said.push(format!(
                "{field}: {} items, the first {} kept",
                v.len(),
                self.limits.list
            ));
            v.truncate(self.limits.list);
        }
    }

    fn package(&mut self, p: &mut Package) {
        self.text("package name", self.limits.identifier, &mut p.name);
        self.ident("package version", &mut p.version);
        self.ident("fixed version", &mut p.fixed_version);
        self.ident("package ecosystem", &mut p.ecosystem);
        self.ident("package path", &mut p.path);
    }
}

/// The first characters of a title, for an issue's place.
fn clip(s: &str) -> String {
    let c: String = s.chars().take(60).collect();
    if c.len() < s.len() {
        format!("{c}...")
    } else {
        c
    }
}

impl Limits {
    /// `record` within the limits, and the issue saying what was cut or dropped.
    pub fn bound(&self, mut record: Record) -> (Record, Option<RecordIssue>) {
        let mut n = Notes {
            limits: self,
            said: Vec::new(),
        };
        match &mut record {
            Record::Exposure { exposure, .. } => self.exposure(&mut n, exposure),
            Record::Asset { asset, .. } => self.asset(&mut n, asset),
            Record::Service { service, .. } => self.service(&mut n, service),
            Record::Package { package, .. } => n.package(package),
            Record::ScanInfo { tool, .. } => n.ident("tool name", tool),
            Record::Issue(i) => {
                // a parser may quote the value it refused: an issue quotes a clip of it
                let mut quiet = Notes {
                    limits: self,
                    said: Vec::new(),
                };
                quiet.text("record", ISSUE_TEXT, &mut i.record);
                quiet.text("message", ISSUE_TEXT, &mut i.message);
            }
            _ => {}
        }
        if n.said.is_empty() {
            return (record, None);
        }
        // the place is written only for a record that has an issue
        let place = match &record {
            Record::Exposure { exposure, .. } => format!("exposure {:?}", clip(&exposure.title)),
            Record::Asset { asset, .. } => format!("asset {:?}", clip(&asset.name)),
            Record::Service { service, .. } => {
                format!("service {}/{}", service.port, service.protocol)
            }
            Record::Package { package, .. } => format!("package {:?}", clip(&package.name)),
            _ => "scan".to_string(),
        };
        let issue = RecordIssue::new(place, format!("field checks: {}", n.said.join("; ")));
        (record, Some(issue))
    }

    fn exposure(&self, n: &mut Notes<'_>, e: &mut Exposure) {
        n.text("title", self.title, &mut e.title);
        n.opt_text("description", self.text, &mut e.description);
        n.opt_text("solution", self.text, &mut e.solution);
        n.opt_text("evidence", self.text, &mut e.evidence);
        // a CVE id of another shape is kept as an advisory id when it is short enough
        if !e.cves.iter().all(|c| ctem_model::is_cve_id(c)) {
            let (good, bad): (Vec<String>, Vec<String>) =
                e.cves.drain(..).partition(|c| ctem_model::is_cve_id(c));
            e.cves = good;
            self.keep_as_advisories(n, e, bad);
        }

        n.idents("CVE ids", &mut e.cves);
        n.idents("advisory ids", &mut e.advisories);
        n.idents("CWE ids", &mut e.cwes);
        n.idents("references", &mut e.references);
        n.ident("rule id", &mut e.rule_id);
        n.ident("tool key", &mut e.tool_key);
        n.ident("protocol", &mut e.protocol);
        n.list("CVSS entries", &mut e.cvss);
        for c in &mut e.cvss {
            n.ident("CVSS vector", &mut c.vector);
            n.ident("CVSS source", &mut c.source);
        }
        if let Some(p) = &mut e.package {
            n.package(p);
        }
        if let Some(l) = &mut e.location {
            n.ident("location path", &mut l.path);
            n.ident("location resource", &mut l.resource);
        }
    }

    fn keep_as_advisories(&self, n: &mut Notes<'_>, e: &mut Exposure, bad: Vec<String>) {
        for b in bad {
            n.said.push(format!("malformed CVE id {:?}", clip(&b)));
            if b.len() <= self.identifier && !e.advisories.contains(&b) {
                e.advisories.push(b);
            }
        }
    }

    fn asset(&self, n: &mut Notes<'_>, a: &mut Asset) {
        n.text("asset name", self.title, &mut a.name);
        let before = a.identifiers.len();
        a.identifiers.retain(|i| i.value.len() <= self.identifier);
        if a.identifiers.len() < before {
            n.said.push(format!(
                "{} identifiers over {} bytes dropped",
                before - a.identifiers.len(),
                self.identifier
            ));
        }
        n.list("identifiers", &mut a.identifiers);
        n.idents("tags", &mut a.tags);
        n.ident("os", &mut a.os);
        n.ident("zone", &mut a.zone);
        n.ident("owner team", &mut a.owner_team);
    }

    fn service(&self, n: &mut Notes<'_>, s: &mut Service) {
        n.text("service state", self.identifier, &mut s.state);
        n.text("service protocol", self.identifier, &mut s.protocol);
        n.ident("service name", &mut s.name);
        n.ident("service product", &mut s.product);
        n.ident("service version", &mut s.version);
        n.idents("CPEs", &mut s.cpe);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctem_model::{ExposureKind, Severity};

    #[test]
    fn a_cut_text_ends_on_a_character_boundary_with_the_marker() {
        let l = Limits {
            title: 30,
            ..Limits::default()
        };
        let e = Exposure::new(ExposureKind::Vulnerability, "é".repeat(40), Severity::Low);
        let (r, issue) = l.bound(Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        });
        let Record::Exposure { exposure, .. } = r else {
            panic!("an exposure")
        };
        assert!(exposure.title.len() <= 30, "{}", exposure.title.len());
        assert!(exposure.title.ends_with(TRUNCATED));
        assert!(
            issue
                .expect("an issue")
                .message
                .contains("title of 80 bytes")
        );
    }

    #[test]
    fn a_parser_issue_quoting_a_megabyte_is_cut() {
        let i = RecordIssue::new("line 1", format!("bad value `{}`", "v".repeat(1 << 20)));
        let (r, issue) = Limits::default().bound(Record::Issue(i));
        assert!(issue.is_none());
        let Record::Issue(i) = r else {
            panic!("an issue")
        };
        assert!(i.message.len() <= 1 << 10 && i.message.ends_with(TRUNCATED));
    }

    #[test]
    fn an_oversized_tool_name_is_dropped() {
        let (r, issue) = Limits::default().bound(Record::ScanInfo {
            tool: Some("x".repeat(1 << 20)),
            started_at: None,
            finished_at: None,
            covers: ctem_model::Coverage::Assets,
        });
        assert!(matches!(r, Record::ScanInfo { tool: None, .. }));
        assert_eq!(issue.expect("issue").record, "scan");
    }

    #[test]
    fn records_within_the_limits_pass_unchanged_without_an_issue() {
        let mut e = Exposure::new(ExposureKind::Vulnerability, "t", Severity::Low);
        e.add_vuln_id("CVE-2021-44228");
        let rec = Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        };
        let (r, issue) = Limits::default().bound(rec.clone());
        assert_eq!(r, rec);
        assert!(issue.is_none());
    }
}
