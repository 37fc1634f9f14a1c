//! The logsources of the gap analysis: those detection has seen (flowing or silent) and
//! those enabled rules wait for that no event has fed (never seen), with the effect
//! onboarding each would have on `coverage.techniques`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use ctem_store::measure::{LogsourceSighting, MeasureFacts};
use serde::Serialize;

use crate::coverage;

/// One logsource line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogsourceLine {
    /// `product/service/category`, `*` for a part not named.
    pub name: String,
    /// Enabled rules it feeds (seen) or would feed (never seen).
    pub rules: u64,
    /// Events detection saw of it.
    pub events: u64,
    pub last: Option<DateTime<Utc>>,
    /// `flowing`, `silent` or `never seen`.
    pub status: String,
    /// Techniques in scope it would add to the covered ones (never seen only).
    pub would_cover: Vec<String>,
}

/// A logsource as (product, service, category).
type Triple = (Option<String>, Option<String>, Option<String>);

fn name(p: &Option<String>, s: &Option<String>, c: &Option<String>) -> String {
    let part = |x: &Option<String>| x.clone().unwrap_or_else(|| "*".into());
    format!("{}/{}/{}", part(p), part(s), part(c))
}

/// Seen logsources, then the never seen ones rules wait for (most rules first).
pub fn lines(
    f: &MeasureFacts,
    scope: &[String],
    now: DateTime<Utc>,
    flowing_days: i64,
) -> Vec<LogsourceLine> {
    let mut out = Vec::new();
    for s in &f.logsources {
        let rules = f
            .rules
            .iter()
            .filter(|r| {
                s.feeds(
                    r.product.as_deref(),
                    r.service.as_deref(),
                    r.category.as_deref(),
                )
            })
            .count() as u64;
        out.push(LogsourceLine {
            name: name(&s.product, &s.service, &s.category),
            rules,
            events: s.events,
            last: Some(s.last_seen),
            status: if now - s.last_seen <= Duration::days(flowing_days) {
                "flowing"
            } else {
                "silent"
            }
            .into(),
            would_cover: Vec::new(),
        });
    }
    let mut waiting: BTreeMap<Triple, u64> = BTreeMap::new();
    for r in f.rules.iter().filter(|r| !coverage::fed(r, &f.logsources)) {
        *waiting
            .entry((r.product.clone(), r.service.clone(), r.category.clone()))
            .or_default() += 1;
    }
    let before = coverage::techniques(f, scope).covered;
    // only rules and sightings are read: a copy of those, one sighting added at a time
    let mut with = MeasureFacts {
        rules: f.rules.clone(),
        logsources: f.logsources.clone(),
        ..Default::default()
    };
    let mut never: Vec<LogsourceLine> = waiting
        .into_iter()
        .map(|((p, s, c), rules)| {
            with.logsources.push(LogsourceSighting {
                product: p.clone(),
                service: s.clone(),
                category: c.clone(),
                events: 1,
                first_seen: now,
                last_seen: now,
            });
            let would_cover = coverage::techniques(&with, scope)
                .covered
                .into_iter()
                .filter(|t| !before.contains(t))
                .collect();
            with.logsources.pop();
            LogsourceLine {
                name: name(&p, &s, &c),
                rules,
                events: 0,
                last: None,
                status: "never seen".into(),
                would_cover,
            }
        })
        .collect();
    never.sort_by(|a, b| {
        b.would_cover
            .len()
            .cmp(&a.would_cover.len())
            .then(b.rules.cmp(&a.rules))
            .then(a.name.cmp(&b.name))
    });
    out.extend(never);
    out
}
