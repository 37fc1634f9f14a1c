//! The decisions of an import, for every store backend: which stored asset a reported asset
//! is ([`resolve_asset`]), what a report does to a stored exposure ([`on_report`]), which
//! sources a scan closes ([`closes`]) and when an exposure is fixed ([`after_close`]). A
//! backend does the row I/O around them (lookups, updates, history rows), so the rules are
//! written once.
//!
//! The lifecycle: each exposure remembers which `(tool, scope)` pairs currently report it
//! (its sources). When a scan commits, the sources of the same tool and scope that the scan
//! did not report are closed; without an explicit scope a scan only speaks for the assets it
//! reported, with one it speaks for the whole scope. An exposure with no open source left is
//! fixed; a fixed exposure reported again is reopened. A document of statements (VEX) decides
//! a status instead, unless a person triaged the exposure.

use crate::asset::{Asset, Identifier};
use crate::exposure::ExposureStatus;

/// Which stored asset `asset` is: its identifiers are tried strongest first
/// ([`Asset::identifiers_by_strength`]) and the first one naming a stored asset of the same
/// kind wins. `lookup(identifier, same_source_only)` is the backend's row lookup: a local
/// identifier (loopback, link-local, `localhost`: every machine has one) may only find an
/// asset the importing source reported before.
pub fn resolve_asset<E>(
    asset: &Asset,
    mut lookup: impl FnMut(&Identifier, bool) -> Result<Option<i64>, E>,
) -> Result<Option<i64>, E> {
    for id in asset.identifiers_by_strength() {
        if let Some(found) = lookup(id, id.is_local())? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// What a report does to an exposure already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Nothing changed but the time it was last seen.
    Unchanged,
    /// Its details changed; its status stands.
    Updated,
    /// It was fixed and is reported again: reopened.
    Reopened,
    /// A statement of the report (VEX) sets its status.
    Decided(ExposureStatus),
}

impl Reported {
    /// The status change it makes, if any.
    pub fn status(self) -> Option<ExposureStatus> {
        match self {
            Reported::Reopened => Some(ExposureStatus::Reopened),
            Reported::Decided(s) => Some(s),
            Reported::Unchanged | Reported::Updated => None,
        }
    }
}

/// The outcome of reporting an exposure stored with `stored`; `decided` is the status a
/// statement of the report decides, `changed` whether its details differ from the stored
/// ones. A statement applies unless the exposure already stands so or a person triaged it
/// (accepted, false positive); a finding (no statement) reopens a fixed exposure.
pub fn on_report(
    stored: ExposureStatus,
    decided: Option<ExposureStatus>,
    changed: bool,
) -> Reported {
    let plain = if changed {
        Reported::Updated
    } else {
        Reported::Unchanged
    };
    match decided {
        Some(st) if st != stored && (stored.is_active() || stored == ExposureStatus::Fixed) => {
            Reported::Decided(st)
        }
        Some(_) => plain,
        None if stored == ExposureStatus::Fixed => Reported::Reopened,
        None => plain,
    }
}

/// Whether a scan closes a source of its own tool and scope that it did not report: always
/// with an explicit scope (the scan speaks for the whole scope), else only on the assets it
/// reported.
pub fn closes(explicit_scope: bool, asset_reported: bool) -> bool {
    explicit_scope || asset_reported
}

/// The status of an exposure one of whose sources was closed: fixed when it was open or
/// reopened and no source reports it any more.
pub fn after_close(status: ExposureStatus, active_sources_left: bool) -> Option<ExposureStatus> {
    (status.is_active() && !active_sources_left).then_some(ExposureStatus::Fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::{AssetKind, IdentifierKind};
    use ExposureStatus as S;

    #[test]
    fn a_report_reopens_fixed_findings_and_statements_spare_triage() {
        assert_eq!(on_report(S::Open, None, false), Reported::Unchanged);
        assert_eq!(on_report(S::Open, None, true), Reported::Updated);
        assert_eq!(on_report(S::Fixed, None, false), Reported::Reopened);
        assert_eq!(on_report(S::Accepted, None, true), Reported::Updated);
        // statements
        assert_eq!(
            on_report(S::Open, Some(S::FalsePositive), false),
            Reported::Decided(S::FalsePositive)
        );
        assert_eq!(
            on_report(S::Fixed, Some(S::Open), false),
            Reported::Decided(S::Open)
        );
        assert_eq!(on_report(S::Fixed, Some(S::Fixed), true), Reported::Updated);
        assert_eq!(
            on_report(S::Accepted, Some(S::Fixed), false),
            Reported::Unchanged,
            "a person's triage stands"
        );
        assert_eq!(Reported::Reopened.status(), Some(S::Reopened));
    }

    #[test]
    fn closing_fixes_only_what_no_source_reports() {
        assert!(closes(true, false));
        assert!(closes(false, true));
        assert!(!closes(false, false));
        assert_eq!(after_close(S::Open, false), Some(S::Fixed));
        assert_eq!(after_close(S::Reopened, false), Some(S::Fixed));
        assert_eq!(after_close(S::Open, true), None);
        assert_eq!(after_close(S::Accepted, false), None);
        assert_eq!(after_close(S::Fixed, false), None);
    }

    #[test]
    fn identity_tries_the_strongest_identifier_first_and_local_ones_narrowly() {
        let mut a = Asset::new(AssetKind::Host, "web01");
        a.identifiers = vec![
            Identifier {
                kind: IdentifierKind::Ipv4,
                value: "127.0.0.1".into(),
            },
            Identifier {
                kind: IdentifierKind::Fqdn,
                value: "web01.corp".into(),
            },
        ];
        let mut asked = Vec::new();
        let found = resolve_asset(&a, |id, narrow| -> Result<_, ()> {
            asked.push((id.value.clone(), narrow));
            Ok((id.value == "127.0.0.1").then_some(7))
        });
        assert_eq!(found, Ok(Some(7)));
        assert_eq!(
            asked,
            [
                ("web01.corp".to_string(), false),
                ("127.0.0.1".to_string(), true)
            ]
        );
    }
}
