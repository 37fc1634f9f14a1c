//! # ctem-intel: threat intelligence for ctem
//!
//! This crate turns threat-intelligence feeds into [`ctem_model::intel`] records, enriches CVEs
//! with what the feeds say about them, and writes indicators back out for controls and
//! partners. It is the `sources -> normalize` half of the intel stage and the `enrich` /
//! `mobilize` helpers that go with it; the store and the CLI (`ctem intel ...`,
//! `ctem share ...`) call it.
//!
//! ## The public API
//!
//! **Import.** Every importer is a pure function from bytes to records plus per-record
//! [`Issue`]s; input that cannot be used at all is one [`Error`] naming the field (and, through
//! [`kind::import`], the file). Gzip input is inflated transparently where the format is
//! distributed that way.
//!
//! | kind (`--kind`) | function | output |
//! |---|---|---|
//! | `kev` | [`kev::parse_kev`]`(&[u8])` | [`kev::KevCatalog`]: header + `Vec<KevEntry>` |
//! | `epss` | [`epss::parse_epss`]`(&[u8])` | [`epss::EpssFile`]: model version, score date, `Vec<EpssScore>` |
//! | `attack` | [`attack::parse_attack`]`(&[u8])` | [`attack::AttackBundle`]: tactics, techniques, mitigations, groups, software, data sources and components, relationships |
//! | `stix` | [`stix::parse_stix`]`(&[u8], source)` | [`stix::StixBundle`]: indicators, sightings, observed-data, malware/tools, attack-patterns, relationships, TLP markings |
//! | `misp` | [`misp::parse_misp`]`(&[u8], source)` | [`misp::MispImport`]: events and indicators; [`misp::parse_manifest`] lists a feed's event files |
//! | `iocs` | [`iocs::parse_iocs`]`(&[u8], source)` | [`Parsed`]`<Indicator>` |
//! | `cve` | [`cve::parse_cve`]`(&[u8])` | [`Parsed`]`<CveRecord>` (CVE JSON 5.x and NVD API 2.0) |
//!
//! [`kind::detect_kind`]`(bytes, filename)` sniffs the kind from content;
//! [`kind::import`]`(Option<IntelKind>, bytes, filename)` runs detection (when the kind is
//! `None`) and the right importer, returning an [`kind::IntelImport`] with `kind()`,
//! `issues()`, `indicators()` and `record_count()` for the import summary, and an error
//! prefixed with the file name. [`kind::IntelKind::ALL`] with `as_str()` and `description()` is
//! the registry `ctem formats` lists.
//!
//! **Enrich.** [`enrich::IntelIndex`] holds KEV entries, EPSS scores and CVE records in
//! `HashMap`s keyed by CVE id; [`enrich::enrich`] (or `IntelIndex::enrich`) returns the
//! [`ctem_model::intel::Enrichment`] for one CVE id: KEV date added, due date and ransomware
//! use; EPSS score, percentile and date; and, only for the fields the caller marks
//! [`enrich::Missing`], the description, CWEs and CVSS metrics.
//!
//! **Share.** [`share::ShareFilter`] (sources, types, minimum confidence, maximum TLP; by
//! default nothing above TLP:AMBER leaves, and revoked or expired indicators never do) feeds
//! [`share::blocklist::blocklist`]`(&[Indicator], BlocklistType, BlocklistFormat, &filter)`
//! (Postfix access map, nftables v4/v6 sets, DNS RPZ zone, CSV, plain) and
//! [`stix::export::export_stix`]`(&[Indicator], &filter)` (a STIX 2.1 bundle).
//!
//! ## Design choices
//!
//! - **Pure parsers, no I/O.** Bytes in, records out. Reading files, HTTP feed updates and
//!   writing to the store belong to the caller, so every parser is testable on fixtures and
//!   fuzzable (`fuzz/fuzz_targets/intel_*`). A MISP feed is a manifest plus event files: the
//!   manifest parser says which files to read and the caller reads them.
//! - **Issues, not failures, for bad records.** A KEV entry without a CVE id, an EPSS row with a
//!   score above 1, a STIX value that is not a domain: each is skipped with an [`Issue`] naming
//!   the record; the rest of the file imports. A wrong EPSS header, an EPSS file without its
//!   `score_date` line, or JSON that is not the format is refused whole.
//! - **Bounded fields.** [`kind::import`] passes every parsed file through [`limits::Limits`]:
//!   an oversized indicator value is dropped, oversized text cut with a marker, each with an
//!   issue; a CVE id longer than 24 bytes is no CVE id ([`cve::is_cve_id`]).
//! - **Typed, borrowing deserialisation where size matters.** The ATT&CK enterprise bundle is
//!   26 MB; it is read into one flat struct naming only the fields used, borrowing from the
//!   input, so serde skips descriptions without allocating (about 90 ms in release). EPSS rows
//!   are split by hand (300,000 rows in about 80 ms). Small, irregular formats (STIX, MISP,
//!   CVE) go through `serde_json::Value`, where tolerance matters more than speed.
//! - **A real STIX pattern parser.** [`stix::pattern`] parses the whole patterning grammar
//!   into an AST. A pattern that is one `=` / `IN` test on an IOC path, or an OR of those,
//!   becomes plain indicators; anything else (AND, FOLLOWEDBY, qualifiers, MATCHES, non-IOC
//!   paths) is kept whole as a `pattern` indicator with a note saying why, so nothing a
//!   producer shared is silently lost or over-simplified into a false blocklist entry.
//! - **One indicator vocabulary.** Every source lands in the same
//!   [`ctem_model::intel::Indicator`] with normalised values (refanged, lower-case domains and
//!   hashes, canonical IPs) so the detect stage and the blocklists need no per-source code.
//! - **Deterministic exports.** Blocklists are sorted and deduplicated; STIX ids are UUIDv5s
//!   over the objects' contributing properties as STIX 2.1 defines them ([`stix::id`]), so
//!   re-exporting the same data gives the same ids.

pub mod attack;
pub mod cve;
pub mod enrich;
pub mod epss;
pub mod error;
pub mod iocs;
pub mod kev;
pub mod kind;
pub mod limits;
pub mod misp;
pub mod share;
pub mod stix;
pub mod util;

pub use error::{Error, Result};
pub use kind::{IntelImport, IntelKind, detect_kind, import};
pub use util::{Issue, Parsed};
