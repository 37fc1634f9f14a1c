//! # ctem-measure: the last stage of the CTEM loop
//!
//! Assess and measure: alerts become incidents, stored data becomes KPIs, KPIs are held
//! against goals, and two reports (the gap analysis and the periodic review) say where the
//! programme stands and what to do next.
//!
//! - [`incidents`]: grouping alerts into incidents by configurable keys within a window;
//!   idempotent (only alerts in no incident are read).
//! - [`kpi`]: every KPI is computed from [`ctem_store::measure::MeasureFacts`], the
//!   aggregates the store reads in one pass per table. A KPI is a number with its sample size
//!   or `null` with the data it lacks; a daily snapshot keeps the history for trends.
//! - [`coverage`]: ATT&CK techniques whose enabled rules are fed by a logsource detection
//!   has seen (the `coverage.techniques` KPI and the assessment's blind spots).
//! - [`goals`]: targets on KPIs (`[[goals]]` in ctem.toml) with met / on track / at risk /
//!   missed from the value, the trend of snapshots and the due date.
//! - [`report`]: the assessment (`ctem assess`) and the review (`ctem review`) as data, then
//!   rendered to Markdown or self-contained HTML (inline CSS, SVG charts).
//!
//! ## Design choices
//! - **"now" is a value.** Nothing here reads the clock: every function takes `now`, so
//!   reports are deterministic and tested byte for byte.
//! - **Aggregates in the store, meaning here.** The store sums and counts next to the data
//!   (a million exposures never become records); what a sum means, when a value cannot be
//!   computed and how goals read it is decided in this crate, with no SQL.
//! - **No front-end knowledge.** No CLI flags or HTTP: the binary and, later, the server's
//!   dashboard call the same functions and render the same report values.

pub mod coverage;
pub mod error;
pub mod goals;
pub mod incidents;
pub mod kpi;
pub mod report;

pub use error::{Error, Result};
