//! Enrichment of one CVE: what its KEV entry, EPSS score and CVE record say about an
//! exposure ([`enrich`]). The one implementation: the intel stage calls it over its
//! in-memory indexes (`ctem_intel::enrich`), the store over the rows it joined.

use std::borrow::Cow;

use crate::intel::{CveRecord, Enrichment, EpssScore, KevEntry};

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

/// A CVE id as the intel sources key it: trimmed, upper case.
pub fn cve_key(cve_id: &str) -> Cow<'_, str> {
    let id = cve_id.trim();
    if id.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(id.to_ascii_uppercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// What the sources know about `cve_id` (any case, surrounding spaces ignored), or `None`
/// when none of them has it. KEV and EPSS facts always; the CVE record's description, CWEs
/// and CVSS only for what `missing` says the exposure lacks; without a CVE record, the KEV
/// entry's CWEs and short description stand in.
pub fn enrich(
    kev: Option<&KevEntry>,
    epss: Option<&EpssScore>,
    cve: Option<&CveRecord>,
    cve_id: &str,
    missing: Missing,
) -> Option<Enrichment> {
    let c = cve.filter(|_| missing != Missing::NONE);
    if kev.is_none() && epss.is_none() && c.is_none() {
        return None;
    }
    let (k, e) = (kev, epss);
    let mut out = Enrichment {
        cve_id: cve_key(cve_id).into_owned(),
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
