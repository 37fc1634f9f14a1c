//! Enrichment of one CVE from in-memory KEV, EPSS and CVE indexes (the decision itself is
//! `ctem_model::enrich::enrich`, which the store's enrichment uses too).
//!
//! [`IntelIndex`] holds three `HashMap`s keyed by upper-case CVE id; [`enrich`] is a pure
//! lookup returning a [`ctem_model::intel::Enrichment`]. Description, CWE and CVSS are copied
//! only when the caller says the exposure lacks them ([`Missing`]), so the common case costs
//! three hash lookups and no string copies beyond the id: a million lookups against a
//! 300,000-score EPSS index take a few hundred milliseconds (see `benches/intel.rs`).

use ctem_model::intel::{CveRecord, Enrichment, EpssScore, KevEntry};
use std::collections::HashMap;

/// KEV, EPSS and CVE records indexed by CVE id.
#[derive(Debug, Clone, Default)]
pub struct IntelIndex {
    pub kev: HashMap<String, KevEntry>,
    pub epss: HashMap<String, EpssScore>,
    pub cves: HashMap<String, CveRecord>,
}

pub use ctem_model::enrich::Missing;

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
/// none of them has it (`ctem_model::enrich::enrich` over the entries found).
pub fn enrich(
    kev: &HashMap<String, KevEntry>,
    epss: &HashMap<String, EpssScore>,
    cves: &HashMap<String, CveRecord>,
    cve_id: &str,
    missing: Missing,
) -> Option<Enrichment> {
    let id = ctem_model::enrich::cve_key(cve_id);
    let c = if missing == Missing::NONE {
        None
    } else {
        cves.get(id.as_ref())
    };
    ctem_model::enrich::enrich(kev.get(id.as_ref()), epss.get(id.as_ref()), c, &id, missing)
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
