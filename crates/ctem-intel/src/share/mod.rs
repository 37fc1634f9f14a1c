//! Sharing: which indicators may leave, and the formats they leave in.
//!
//! [`ShareFilter`] decides what leaves. By default nothing marked above TLP:AMBER leaves, and
//! revoked or expired indicators never do, whatever the filter says. [`blocklist`] writes
//! control-ready lists (Postfix access map, nftables sets, DNS RPZ zone, CSV, plain);
//! [`crate::stix::export`] writes a STIX 2.1 bundle. All are pure functions over a slice of
//! indicators returning a `String`.

pub mod blocklist;

use chrono::{DateTime, Utc};
use ctem_model::intel::{Indicator, IndicatorType, Tlp};

/// What may be shared.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareFilter {
    /// Only these sources (empty: any).
    pub sources: Vec<String>,
    /// Only these types (empty: any).
    pub types: Vec<IndicatorType>,
    /// Only indicators with at least this confidence; one without a confidence passes only
    /// when this is `None`.
    pub min_confidence: Option<u8>,
    /// The most restrictive TLP allowed out. Default: [`Tlp::Amber`].
    pub max_tlp: Tlp,
    /// The TLP assumed for an indicator that has none. Default: [`Tlp::Amber`] (shared under
    /// the default filter, held back by a stricter one).
    pub untagged_tlp: Tlp,
    /// Expiry (`valid_until`) is judged at this instant.
    pub now: DateTime<Utc>,
}

impl ShareFilter {
    /// The default filter at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            sources: Vec::new(),
            types: Vec::new(),
            min_confidence: None,
            max_tlp: Tlp::Amber,
            untagged_tlp: Tlp::Amber,
            now,
        }
    }

    /// Whether one indicator may leave.
    pub fn allows(&self, i: &Indicator) -> bool {
        i.is_active(self.now)
            && i.tlp.unwrap_or(self.untagged_tlp) <= self.max_tlp
            && (self.sources.is_empty() || self.sources.contains(&i.source))
            && (self.types.is_empty() || self.types.contains(&i.kind))
            && self
                .min_confidence
                .is_none_or(|min| i.confidence.is_some_and(|c| c >= min))
    }

    /// The indicators that may leave, in input order.
    pub fn apply<'a>(&'a self, all: &'a [Indicator]) -> impl Iterator<Item = &'a Indicator> + 'a {
        all.iter().filter(move |i| self.allows(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ind(tlp: Option<Tlp>) -> Indicator {
        let mut i = Indicator::new(IndicatorType::Domain, "evil.example", "feed");
        i.tlp = tlp;
        i
    }

    #[test]
    fn default_filter_holds_back_above_amber_revoked_and_expired() {
        let now = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let f = ShareFilter::new(now);
        assert!(f.allows(&ind(None)));
        assert!(f.allows(&ind(Some(Tlp::Amber))));
        assert!(!f.allows(&ind(Some(Tlp::AmberStrict))));
        assert!(!f.allows(&ind(Some(Tlp::Red))));
        let mut revoked = ind(Some(Tlp::Clear));
        revoked.revoked = true;
        assert!(!f.allows(&revoked));
        let mut expired = ind(Some(Tlp::Clear));
        expired.valid_until = Some(now - chrono::Duration::seconds(1));
        assert!(!f.allows(&expired));
        let mut wide = ShareFilter::new(now);
        wide.max_tlp = Tlp::Red;
        assert!(!wide.allows(&revoked) && !wide.allows(&expired));
    }

    #[test]
    fn source_type_and_confidence_filters() {
        let now = Utc::now();
        let mut f = ShareFilter::new(now);
        f.sources = vec!["other".into()];
        assert!(!f.allows(&ind(None)));
        f.sources.clear();
        f.types = vec![IndicatorType::Url];
        assert!(!f.allows(&ind(None)));
        f.types.clear();
        f.min_confidence = Some(50);
        assert!(!f.allows(&ind(None)));
        let mut sure = ind(None);
        sure.confidence = Some(80);
        assert!(f.allows(&sure));
    }
}
