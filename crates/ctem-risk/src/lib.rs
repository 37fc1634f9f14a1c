//! Prioritization for ctem: which exposure to fix first, and why.
//!
//! This crate is the `prioritize` stage of the pipeline. It scores CVSS vectors, walks
//! CISA's SSVC tree, combines exploitation evidence, severity, exposure and asset
//! criticality into one 0-100 risk score with a priority, computes SLA due dates, and
//! groups open exposures into remediation actions for `ctem top`. It does no I/O: the store
//! owner fills plain input structs, the CLI prints the serialisable outputs.
//!
//! # The public API, by command
//!
//! * `ctem cvss VECTOR [--json]`: [`score`]`(vector) -> Result<CvssScore>`; the
//!   [`CvssScore`] serialises exactly to the JSON of `CLI.md` (`vector`, `version`,
//!   `base_score`, `severity`, plus `temporal_score` / `environmental_score` when a v2 / v3
//!   vector carries them, `score` and `nomenclature` for v4.0). Errors ([`Error`]) name the
//!   metric and the value, and print as one lower-case line. [`Cvss::parse`] gives the
//!   typed vector and every score of its version.
//! * `ctem top`: build a [`RiskModel`] once ([`RiskConfig::from_toml`] or
//!   [`RiskConfig::default`], then [`RiskConfig::build`]); for each open exposure fill a
//!   [`RiskInput`] and call [`RiskModel::quick`] (score and priority, no allocation); hand
//!   [`OpenExposure`]s to [`group_remediations`], which returns [`RemediationGroup`]s
//!   ordered by urgency ([`urgency_order`]: highest priority closed, then KEV count, then
//!   risk removed, then exposures closed).
//! * `ctem explain ID`: [`RiskModel::score`] gives a [`RiskScore`] whose `factors` list
//!   every factor with its value, weight, contribution and reason; [`RiskScore::explain`]
//!   is the human text, `serde_json::to_string(&risk_score)` the `--json` output.
//! * SLA columns and breach reports: [`SlaConfig::status`] with the priority (or SSVC
//!   decision), the opening date, the KEV due date, the closing date and today.
//! * [`ssvc::decide`] is usable on its own; [`RiskModel::ssvc_inputs`] shows how the model
//!   derives SSVC decision points from a [`RiskInput`]. To fill `automatable` and
//!   `technical_impact` from an exposure's vector, use [`Cvss::automatable`] and
//!   [`Cvss::technical_impact`]; `cvss_base_score` is [`Cvss::base_score`].
//!
//! `docs/risk-model.md` documents the model, its defaults, the SSVC table and the SLAs.
//!
//! # Design choices
//!
//! * **CVSS is written here, not taken from a crate.** Scores must be exact to the spec,
//!   including its rounding, and errors must say which metric and value are wrong. The
//!   integration test scores all 7,091 vectors of Red Hat's `cvss` test suite (v2, v3.0,
//!   v3.1, v4.0, with temporal, environmental and threat metrics) and requires every
//!   expected score. v3 uses the integer `Roundup` of v3.1 appendix A for both minor
//!   versions, and v2 rounds half up after cancelling float noise: the reference
//!   implementations compute in decimal arithmetic, and these give the same results.
//! * **The v4.0 MacroVector table is data** (`cvss/v4_table.rs`), transcribed from the
//!   FIRST specification, with the highest-severity vectors and depths of each EQ; the
//!   interpolation in `cvss/v4.rs` follows the specification's steps in order, because the
//!   order of floating-point sums decides ties at x.x5.
//! * **The risk score is a weighted mean, damped by multipliers.** Additive factors
//!   (KEV, ransomware use, EPSS, public exploit, severity, exposure, criticality) have
//!   values in 0-1 and configurable weights; mitigating facts (VEX `not_affected`, accepted
//!   risk) multiply. Each factor's `contribution` is in score points and
//!   the contributions add up to the score, so the explanation is the computation, not a
//!   story told beside it. Raising any risk input never lowers the score (tested).
//! * **Unknown context is neutral.** Inputs are `Option`s. An unknown exposure or asset
//!   criticality leaves the weighted mean (its weight drops out), so a missing fact neither
//!   raises nor lowers the score, and [`RiskScore::missing`] lists it for `ctem explain` to
//!   say how to supply it. An unknown severity takes a configured value ("assumed"); SSVC has
//!   no "unknown" and we follow its advice to pick the reasonable assumption.
//! * **Exploited first.** A KEV-listed exposure (or an SSVC "Act") is at least P1 unless it
//!   is known to be unreachable (then P2), VEX says not affected, or the risk was accepted:
//!   the EPSS research shows exploitation evidence beats CVSS-only ranking by an order of
//!   magnitude, so severity and volume must not bury it. "No fixed version" changes the
//!   action (mitigate), never the urgency.
//! * **Policy is configuration.** `policy = "risk_score"` (thresholds) or `"ssvc"` (Act P1,
//!   Attend P2, Track* P3, Track P4); both results are always computed, and the KEV floor
//!   (above) applies under both.
//! * **A fast path for re-scoring.** [`RiskModel::quick`] and [`RiskModel::score`] share
//!   one evaluation generic over a factor sink; the quick sink builds no reason strings.
//!   The bench re-scores 1,000,000 inputs in about 60 ms and groups 1,000,000 exposures
//!   in under a second.
//! * **Grouping borrows.** [`OpenExposure`] holds `&str`s from the store's rows; only the
//!   groups own strings. Versions compare with a dpkg-like order plus semver / PEP 440
//!   pre-release markers ([`version::compare`]); multi-branch fixed versions
//!   ("1.1.1w, 3.0.13") pick the fix on the installed branch ([`remediation::needed_fix`]).
//! * **One crate, modules per concern** (`cvss`, `ssvc`, `model`, `config`, `sla`,
//!   `remediation`, `version`): they share types (priority, severity) and none is large
//!   enough to earn its own crate.

pub mod config;
pub mod cvss;
pub mod error;
pub mod model;
pub mod remediation;
pub mod sla;
pub mod ssvc;
pub mod version;

pub use config::{Policy, RiskConfig};
pub use cvss::{Cvss, CvssScore, Severity, Version, score};
pub use error::{Error, Result};
pub use model::{Factor, NetworkZone, Priority, RiskInput, RiskModel, RiskScore};
pub use remediation::{OpenExposure, RemediationGroup, group_remediations, urgency_order};
pub use sla::{SlaConfig, SlaStatus, SlaTarget};
