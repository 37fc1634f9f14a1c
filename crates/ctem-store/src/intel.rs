//! Storage of threat intelligence (indicators, KEV, EPSS, ATT&CK, CVE records) and exposure enrichment.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/intel.rs`).

/// Storage of threat intelligence (indicators, KEV, EPSS, ATT&CK, CVE records) and exposure enrichment.
pub trait IntelStore {}
