//! # ctem-model: the one data model every stage speaks
//!
//! ctem runs a pipeline, `sources -> normalize -> store -> enrich -> detect / prioritize ->
//! validate -> mobilize -> measure`. Each stage is its own crate with a small API, and the types
//! in this crate are the contract between them: a parser in `ctem-ingest` produces them, the
//! store in `ctem-store` persists them, later stages read them back. Keeping them in one crate,
//! with no I/O and no database types, means a stage can be tested alone and a backend can change
//! without touching the parsers.
//!
//! ## What is here
//! - [`asset`]: [`Asset`] (host, container image, cloud resource, repository, application,
//!   identity) with its typed [`Identifier`]s, and the [`Service`]s it exposes.
//! - [`exposure`]: [`Exposure`], one finding on one asset (vulnerability, misconfiguration,
//!   secret, open service, weak credential), its [`Severity`], lifecycle [`ExposureStatus`] and
//!   dedup [`Fingerprint`].
//! - [`scan`]: [`Scan`], one imported report, and the [`ImportSummary`] the CLI prints.
//! - [`record`]: [`Record`], what a parser emits while it streams through a report.
//! - [`intel`]: threat-intelligence records (indicators and friends).
//! - [`context`]: asset context (criticality, zone, internet-facing, team, environment), the
//!   source of each fact, and the context rules that set them.
//! - [`alert`]: [`Alert`], a detection with the host, user and process it concerns.
//!
//! ## Design choices
//! - **Plain serde types, no behaviour beyond invariants.** Anything that needs a database,
//!   the network or configuration lives in a stage crate.
//! - **Identity is explicit.** An asset is recognised by its identifiers, strongest first
//!   ([`IdentifierKind::strength`]); an exposure by a fingerprint whose recipe depends on its
//!   kind ([`Exposure::fingerprint`]). Both rules are documented in `docs/data-model.md`.
//! - **Scanner data is kept as given.** Severity and CVSS vectors are stored as the tool reported
//!   them; scoring and prioritisation are later stages' business.

pub mod alert;
pub mod asset;
pub mod context;
pub mod enrich;
pub mod exposure;
pub mod incident;
pub mod intel;
pub mod lifecycle;
pub mod record;
pub mod redact;
pub mod risk;
pub mod scan;
pub mod work;

pub use alert::Alert;
pub use asset::{Asset, AssetKind, Identifier, IdentifierKind, Service};
pub use exposure::{
    Cvss, Exposure, ExposureKind, ExposureStatus, Fingerprint, Location, Package, Severity,
    StatusChange, is_cve_id,
};
pub use incident::{Incident, IncidentState};
pub use record::{AssetKey, Coverage, Record, RecordIssue};
pub use scan::{AssetCounts, ExposureCounts, ImportSummary, Scan};
