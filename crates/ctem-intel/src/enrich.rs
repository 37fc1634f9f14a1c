//! Enrichment of one CVE from in-memory KEV, EPSS and CVE indexes.
//!
//! [`IntelIndex`] holds three `HashMap`s keyed by upper-case CVE id; [`enrich`] is a pure
//! lookup returning a [`ctem_model::intel::Enrichment`]. Description, CWE and CVSS are copied
//! only when the caller says the exposure lacks them ([`Missing`]), so the common case costs
//! three hash lookups and no string copies beyond the id: a million lookups against a
//! 300,000-score EPSS index take a few hundred milliseconds (see `benches/intel.rs`).

use ctem_model::intel::{CveRecord, Enrichment, EpssScore, KevEntry};
use std::borrow::Cow;
use std::collections::HashMap;

/// KEV, EPSS and CVE records indexed by CVE id.
#[derive(Debug, Clone, Default)]
pub struct IntelIndex {
    pub kev: HashMap<String, KevEntry>,
    pub epss: HashMap<String, EpssScore>,
    pub cves: HashMap<String, CveRecord>,
}

/// Which CVE-record fields the exposure lacks and should be filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Missing {
    pub description: bool,
    pub cwes: bool,
    pub cvss: bool,
}

impl Missing {
    /// Nothing missing: only KEV and EPSS fields are returned.
    pub const NONE: Missing = Missing {
        description: false,
        cwes: false,
        cvss: false,
    };
    /// Everything missing.
    pub const ALL: Missing = Missing {
        description: true,
        cwes: true,
        cvss: true,
    };
}

impl IntelIndex {
    /// An index over the given records; a later record with the same id replaces an earlier.
    pub fn new(
        kev: impl IntoIterator<Item = KevEntry>,
        epss: impl IntoIterator<Item = EpssScore>,
        cves: impl IntoIterator<Item = CveRecord>,
    ) -> Self {
        let mut ix = Self::default();
        ix.add_kev(kev);
        ix.add_epss(epss);
        ix.add_cves(cves);
        ix
    }

    pub fn add_kev(&mut self, items: impl IntoIterator<Item = KevEntry>) {
        self.kev.extend(
            items
                .into_iter()
                .map(|k| (k.cve_id.to_ascii_uppercase(), k)),
        );
    }

    pub fn add_epss(&mut self, items: impl IntoIterator<Item = EpssScore>) {
        self.epss.extend(
            items
                .into_iter()
                .map(|e| (e.cve_id.to_ascii_uppercase(), e)),
        );
    }

    pub fn add_cves(&mut self, items: impl IntoIterator<Item = CveRecord>) {
        self.cves
            .extend(items.into_iter().map(|c| (c.id.to_ascii_uppercase(), c)));
    }

    /// See [`enrich`].
    pub fn enrich(&self, cve_id: &str, missing: Missing) -> Option<Enrichment> {
        enrich(&self.kev, &self.epss, &self.cves, cve_id, missing)
    }
}

/// What the indexes know about `cve_id` (any case, surrounding spaces ignored), or `None` when
/// none of them has it.
pub fn enrich(
    kev: &HashMap<String, KevEntry>,
    epss: &HashMap<String, EpssScore>,
    cves: &HashMap<String, CveRecord>,
    cve_id: &str,
    missing: Missing,
) -> Option<Enrichment> {
    let id = cve_id.trim();
    let id: Cow<'_, str> = if id.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(id.to_ascii_uppercase())
    } else {
        Cow::Borrowed(id)
    };
    let k = kev.get(id.as_ref());
    let e = epss.get(id.as_ref());
    let c = if missing == Missing::NONE {
        None
    } else {
        cves.get(id.as_ref())
    };
    if k.is_none() && e.is_none() && c.is_none() {
        return None;
    }
    let mut out = Enrichment {
        cve_id: id.into_owned(),
        kev: k.is_some(),
        kev_date_added: k.map(|k| k.date_added),
        kev_due_date: k.and_then(|k| k.due_date),
        kev_ransomware: k.and_then(|k| k.known_ransomware_campaign_use),
        epss: e.map(|e| e.epss),
        epss_percentile: e.map(|e| e.percentile),
        epss_date: e.and_then(|e| e.date),
        ..Enrichment::default()
    };
    if let Some(c) = c {
        if missing.description {
            out.description = c.description().map(str::to_string);
        }
        if missing.cwes {
            out.cwes = c.cwes.clone();
        }
        if missing.cvss {
            out.cvss = c.cvss.clone();
        }
    }
    if let Some(k) = k.filter(|_| missing.cwes && out.cwes.is_empty()) {
        out.cwes = k.cwes.clone();
    }
    if missing.description && out.description.is_none() {
        out.description = k
            .map(|k| k.short_description.clone())
            .filter(|d| !d.is_empty());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ctem_model::intel::{Description, RansomwareUse};

    fn index() -> IntelIndex {
        let day = |d| NaiveDate::from_ymd_opt(2021, 12, d).unwrap_or_default();
        IntelIndex::new(
            [KevEntry {
                cve_id: "CVE-2021-44228".into(),
                vendor_project: "Apache".into(),
                product: "Log4j2".into(),
                vulnerability_name: "Log4Shell".into(),
                date_added: day(10),
                short_description: "kev text".into(),
                required_action: "patch".into(),
                due_date: Some(day(24)),
                known_ransomware_campaign_use: Some(RansomwareUse::Known),
                notes: String::new(),
                cwes: vec!["CWE-20".into()],
            }],
            [EpssScore {
                cve_id: "CVE-2021-44228".into(),
                epss: 0.97,
                percentile: 0.9999,
                date: Some(day(1)),
            }],
            [CveRecord {
                id: "CVE-2021-44228".into(),
                state: None,
                published: None,
                descriptions: vec![Description {
                    lang: "en".into(),
                    value: "cve text".into(),
                }],
                cwes: vec!["CWE-502".into()],
                cvss: Vec::new(),
            }],
        )
    }

    #[test]
    fn fills_kev_and_epss_always_and_cve_fields_only_when_missing() {
        let ix = index();
        let e = ix.enrich(" cve-2021-44228 ", Missing::NONE).expect("known");
        assert!(e.kev);
        assert_eq!(e.kev_ransomware, Some(RansomwareUse::Known));
        assert_eq!(e.epss, Some(0.97));
        assert_eq!(e.description, None);
        let e = ix.enrich("CVE-2021-44228", Missing::ALL).expect("known");
        assert_eq!(e.description.as_deref(), Some("cve text"));
        assert_eq!(e.cwes, vec!["CWE-502"]);
        assert!(ix.enrich("CVE-2000-0001", Missing::ALL).is_none());
    }
}
