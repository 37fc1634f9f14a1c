//! # ctem-store: where every stage's data lives
//!
//! One [`Store`] trait, implemented by an embedded SQLite backend ([`sqlite::SqliteStore`],
//! the zero-set-up default: `./ctem.db`, `$CTEM_DB` or `--db`) and a PostgreSQL backend
//! ([`postgres::PgStore`], `postgres://...`) on the same schema. [`open`] picks the backend
//! from the URL scheme.
//!
//! ## The import contract
//! An import is a session ([`ImportSession`]) fed with the [`Record`]s a parser emits. The
//! session runs inside one database transaction: nothing is visible, and nothing already
//! stored is changed, unless [`ImportSession::commit`] succeeds. Dropping a session rolls it
//! back, so a parser error half-way through a file leaves the store exactly as it was.
//!
//! Inside the session the store applies the import's decisions, written once for every
//! backend in [`ctem_model::lifecycle`] (the backend does the lookups and writes around them):
//! - **asset identity**: an asset record is matched against stored assets of the same kind by
//!   its identifiers, strongest first (cloud id, image digest, repo URL, MAC, FQDN, image ref,
//!   IP, short host name, name); the first identifier that names a stored asset wins and the
//!   new identifiers are added to it. So nmap's `10.0.0.5 / web01.corp` and Nessus's
//!   `web01.corp / 00:11:22:..` become one asset. A local identifier (loopback, link-local,
//!   unspecified address, `localhost`) only finds assets the same source reported before.
//! - **asset facts**: criticality, zone, internet-facing, team and environment are written by
//!   rank: an inventory import's facts overwrite and are kept; a scanner's fill the rest. Each
//!   fact's source is stored (`AssetRow::fact_sources`), and which sources reported each
//!   asset (`AssetRow::sources`, `never_scanned`).
//! - **dedup**: an exposure is keyed by `(asset, fingerprint)` where the fingerprint recipe
//!   depends on its kind ([`ctem_model::Exposure::fingerprint`]).
//! - **lifecycle**: each exposure remembers which `(tool, scope)` pairs currently report it
//!   (its *sources*). When a scan commits, the sources of the same tool and scope that the
//!   scan did not report are closed, and an exposure with no open source left becomes
//!   `fixed`. Without an explicit scope a scan only speaks for the assets it reported; with
//!   `--scope` it speaks for the whole scope. A document of statements (a VEX, an advisory:
//!   [`ctem_model::Coverage::Statements`] in its `ScanInfo`) speaks only for the pairs it
//!   states and closes nothing; the status its statements decide (fixed, false positive) is
//!   applied to the matching exposure instead. Exposures of other tools or scopes are never
//!   touched. A fixed exposure reported again is `reopened`. Every change is kept in its
//!   status history.
//!
//! ## Prioritisation is row I/O
//! Scores, routing, ticket grouping and `ctem top` are decided by `ctem_core::prioritize`;
//! a backend offers the reads and bulk writes of a pass ([`risk::RiskRows`]): inputs read
//! in bulk, exposures streamed to the domain's scorer (on several threads if the backend
//! can) with their score rows written in batches, ticket changes applied in one call. This
//! crate depends on `ctem-model` only.
//!
//! ## Design choices
//! - **Synchronous trait.** The CLI is synchronous and SQLite is in-process; the server wraps
//!   calls in `spawn_blocking`. Bulk imports measured faster with rusqlite's prepared
//!   statements than through an async driver.
//! - **Columns for what is filtered, JSON for the rest.** Severity, status, ids and package
//!   columns are indexed for queries; the full exposure detail (CVSS list, references,
//!   evidence) is one JSON column, so new detail needs no migration.
//! - **Versioned migrations** in [`sqlite::migrations`]; a store newer than the binary is
//!   refused rather than misread.
//! - **One conformance suite** (`testsuite`, behind the `testsuite` cargo feature so it is
//!   not part of the production API) that every backend runs, with the domain's suites over
//!   these traits (`ctem_core::testsuite`: prioritisation, asset context, follow-up).
//! - **Handles for threads.** A [`Store`] is `Send`; a server shares a [`Pool`] (`Send +
//!   Sync`) and each request takes a handle of its own.
//! - **Errors by kind.** [`Error::kind`] says not found, conflict, invalid, forbidden,
//!   unavailable or internal; the public error names no driver and no command-line flag.

pub mod alerts;
pub mod auth;
pub mod error;
pub mod exercise;
pub mod fx;
pub mod intel;
pub mod measure;
pub mod pool;
pub mod postgres;
pub mod prepared;
pub mod risk;
pub mod runs;
mod session;
pub mod sqlite;
#[cfg(feature = "testsuite")]
pub mod testsuite;
#[cfg(feature = "testsuite")]
pub mod testsuite_intel;
#[cfg(feature = "testsuite")]
pub mod testsuite_measure;
#[cfg(feature = "testsuite")]
pub mod testsuite_pg;
#[cfg(feature = "testsuite")]
pub mod testsuite_records;
#[cfg(feature = "testsuite")]
pub mod testsuite_runs;
pub mod work;

use chrono::{DateTime, Utc};
use ctem_model::{Asset, Exposure, ExposureStatus, ImportSummary, Record, Scan, Service, Severity};

pub use error::{Error, ErrorKind, Result};
pub use pool::{Connector, Pool, Pooled};

/// A store's schema as both backends describe it: its tables with their columns, and the
/// names of its indexes, sorted (the test that the backends keep the same schema).
pub type SchemaShape = (Vec<(String, Vec<String>)>, Vec<String>);

/// What the caller knows about an import before reading it.
#[derive(Debug, Clone)]
pub struct ScanMeta {
    /// The tool; a parser's `ScanInfo` record may refine it (SARIF drivers).
    pub tool: String,
    pub format: String,
    /// `--scope`; `None` means the default scope, limited to the assets the scan reports.
    pub scope: Option<String>,
    pub file: String,
    pub sha256: String,
    pub imported_at: DateTime<Utc>,
}

/// Filters for [`Store::exposures`]. Empty means everything.
#[derive(Debug, Clone, Default)]
pub struct ExposureFilter {
    /// Minimum severity.
    pub min_severity: Option<Severity>,
    /// Statuses to include; empty means all.
    pub statuses: Vec<ExposureStatus>,
    /// Asset id, name or identifier value.
    pub asset: Option<String>,
    pub cve: Option<String>,
    /// Only exposures a source of this tool reports or reported.
    pub tool: Option<String>,
    /// Only exposures whose CVE is in the CISA KEV catalog (after enrichment).
    pub kev: bool,
    pub limit: Option<usize>,
    /// The order of the listing.
    pub sort: ExposureSort,
    /// Keyset pagination: only the exposures that come after this one in `sort` order.
    pub after: Option<ExposureCursor>,
}

/// The orders an exposure listing can take; each ends on the id, so a position in it is
/// one `(key, id)` pair ([`ExposureCursor`]) and the next page is a range scan of an index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExposureSort {
    /// Most severe first, then by id (the CLI's order).
    #[default]
    Severity,
    /// Most severe first, newest id first: one index range scan from any cursor (the
    /// API's and the dashboard's order).
    SeverityNewest,
    /// Oldest id first.
    Id,
    /// Newest id first.
    IdDesc,
}

/// Where a page of exposures ended: the sort key (the severity rank for
/// [`ExposureSort::Severity`], unused otherwise) and the id of its last exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposureCursor {
    pub key: i64,
    pub id: i64,
}

impl ExposureCursor {
    /// The cursor after `e` in `sort` order.
    pub fn after(e: &Exposure, sort: ExposureSort) -> Option<Self> {
        let id = e.id?;
        let key = match sort {
            ExposureSort::Severity | ExposureSort::SeverityNewest => e.severity as i64,
            ExposureSort::Id | ExposureSort::IdDesc => 0,
        };
        Some(ExposureCursor { key, id })
    }
}

/// Filters for [`Store::assets`].
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// One asset by id.
    pub id: Option<i64>,
    pub kind: Option<ctem_model::AssetKind>,
    /// Substring of the name or of any identifier.
    pub search: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<usize>,
    /// Keyset pagination: only assets with a larger id (the listing is in id order).
    pub after_id: Option<i64>,
}

/// An asset with its counts, as listings show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AssetRow {
    #[serde(flatten)]
    pub asset: Asset,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub services: u64,
    pub open_exposures: u64,
    /// The tools that reported the asset (`nmap`, `trivy`, `inventory`...).
    pub sources: Vec<String>,
    /// Only an inventory import knows it: no scanner reported it yet.
    pub never_scanned: bool,
    /// Where each stored fact came from (inventory or scanner); rules are applied on top by
    /// [`ctem_model::context::ContextRules::resolve`].
    #[serde(skip)]
    pub fact_sources: ctem_model::context::FactSources,
}

/// A source of an exposure: a tool and scope that report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExposureSource {
    pub tool: String,
    pub scope: String,
    pub active: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub last_scan_id: i64,
}

/// One import in progress. Feed it records, then commit; dropping it rolls back.
pub trait ImportSession {
    fn record(&mut self, record: Record) -> Result<()>;
    /// A record already prepared (see [`prepared`]): lets the caller prepare on another
    /// thread. [`ImportSession::record`] is `prepared(Preparer::prepare(record))`.
    fn prepared(&mut self, record: prepared::Prepared) -> Result<()>;
    /// The SHA-256 of the whole file, known only once the parser has read it.
    fn set_sha256(&mut self, sha256: String);
    /// Applies the lifecycle rules, writes the scan, commits.
    fn commit(self: Box<Self>) -> Result<ImportSummary>;
}

/// The store every stage reads and writes. Each stage's own storage is a trait of its own
/// ([`intel::IntelStore`], [`work::WorkStore`], [`alerts::AlertStore`]) so its methods live
/// beside its tables.
pub trait Store:
    intel::IntelStore
    + work::WorkStore
    + risk::RiskRows
    + alerts::AlertStore
    + exercise::ExerciseStore
    + measure::MeasureStore
    + auth::AuthStore
    + runs::RunStore
    + Send
{
    fn begin_import(&mut self, meta: ScanMeta) -> Result<Box<dyn ImportSession + '_>>;
    fn assets(&self, filter: &AssetFilter) -> Result<Vec<AssetRow>>;
    fn asset(&self, id: i64) -> Result<Option<Asset>>;
    fn services(&self, asset_id: i64) -> Result<Vec<Service>>;
    /// The package inventory of an asset (SBOM components), by name and version.
    fn packages(&self, asset_id: i64) -> Result<Vec<ctem_model::Package>>;
    fn exposures(&self, filter: &ExposureFilter) -> Result<Vec<Exposure>>;
    /// The same exposures as [`Store::exposures`], handed to `each` one at a time as they are
    /// read, so a listing of any size stays in bounded memory. An error from `each` stops the
    /// read and is returned.
    fn each_exposure(
        &self,
        filter: &ExposureFilter,
        each: &mut dyn FnMut(Exposure) -> Result<()>,
    ) -> Result<()> {
        for e in self.exposures(filter)? {
            each(e)?;
        }
        Ok(())
    }
    /// One exposure with its full status history.
    fn exposure(&self, id: i64) -> Result<Option<Exposure>>;
    fn exposure_sources(&self, id: i64) -> Result<Vec<ExposureSource>>;
    fn scans(&self) -> Result<Vec<Scan>>;
    /// Changes an exposure's status by hand (accepted, false_positive, ...), with a reason.
    fn set_status(&mut self, id: i64, status: ExposureStatus, reason: &str) -> Result<()>;
    /// The dashboard's figures as of `today`, with a trend of the last `days` days.
    fn overview(&self, today: chrono::NaiveDate, days: u32) -> Result<Overview>;
}

/// What the dashboard's overview shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Overview {
    pub assets: u64,
    /// Open and reopened exposures by severity (unknown, info, low, medium, high, critical).
    pub open_by_severity: [u64; 6],
    /// Open and reopened exposures by priority P1..P4.
    pub open_by_priority: [u64; 4],
    /// Open exposures whose CVE is in CISA KEV.
    pub kev_open: u64,
    /// Open exposures past their SLA due date.
    pub sla_breached: u64,
    /// Per day: exposures first seen, exposures fixed.
    pub trend: Vec<(chrono::NaiveDate, u64, u64)>,
}

/// How a store is opened: what the command line and `[store]` in ctem.toml may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// How long a statement waits for another process's lock before failing
    /// ([`Error::is_busy`]).
    pub busy_timeout: std::time::Duration,
    /// The permission bits of a store file this call creates (`.db`; SQLite gives its
    /// `-wal`, `-shm` and `-journal` the same). An existing file's mode is left alone.
    pub file_mode: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            busy_timeout: std::time::Duration::from_secs(10),
            file_mode: 0o600,
        }
    }
}

/// Whether `url` names a PostgreSQL store.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store named by `url`: a path, `sqlite://PATH`, or
/// `postgres://USER@HOST[:PORT]/DB[?schema=NAME]`.
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    open_with(url, &OpenOptions::default())
}

/// [`open`] with explicit options.
pub fn open_with(url: &str, opts: &OpenOptions) -> Result<Box<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Box::new(sqlite::SqliteStore::open_with(path, opts)?));
    }
    // a store URL may carry a password: never repeat it
    let shown = ctem_model::redact::url(url);
    if is_postgres(url) {
        return Ok(Box::new(postgres::PgStore::open_with(url, opts)?));
    }
    if url.contains("://") {
        return Err(Error::UnsupportedUrl(shown));
    }
    Ok(Box::new(sqlite::SqliteStore::open_with(url, opts)?))
}

/// [`open_with`] for a store moved between threads (the server's pool of handles).
pub fn open_shared(url: &str, opts: &OpenOptions) -> Result<Box<dyn Store + Send>> {
    if is_postgres(url) {
        return Ok(Box::new(postgres::PgStore::open_with(url, opts)?));
    }
    if url.contains("://") && !url.starts_with("sqlite://") {
        // the same refusal, with the same redaction, as `open_with`
        return Err(match open_with(url, opts) {
            Err(e) => e,
            Ok(_) => Error::UnsupportedUrl(ctem_model::redact::url(url)),
        });
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    Ok(Box::new(sqlite::SqliteStore::open_with(path, opts)?))
}
