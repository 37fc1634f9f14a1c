//! KPIs computed from stored facts. A KPI is a number with its sample size, or `null` with
//! the reason it cannot be computed: never an invented zero. docs/kpis.md says how each is
//! computed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use ctem_model::IncidentState;
use ctem_store::Store;
use ctem_store::measure::{MeasureFacts, PriorityFacts, Snapshot};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `[kpi]` in ctem.toml.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KpiConfig {
    /// An asset counts as scanned when a scan saw it in the last `scan_days` days.
    pub scan_days: u32,
    /// Without `--since`, incident frequency is measured over the last `frequency_days`.
    pub frequency_days: u32,
    /// The ATT&CK techniques in scope of `coverage.techniques` (`T1059`, `T1003.001`); empty:
    /// every technique an enabled rule is tagged with.
    pub techniques: Vec<String>,
}

impl Default for KpiConfig {
    fn default() -> Self {
        Self {
            scan_days: 30,
            frequency_days: 28,
            techniques: Vec::new(),
        }
    }
}

/// One KPI value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// Stable id, the name goals use (`mttr.critical_days`).
    pub id: String,
    pub title: String,
    pub unit: String,
    pub value: Option<f64>,
    /// How many items the value is computed over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Why there is no value: the data that is lacking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// The priorities in KPI ids: P1 critical .. P4 low.
pub const PRIORITIES: [(u8, &str); 4] = [(1, "critical"), (2, "high"), (3, "medium"), (4, "low")];

fn val(id: &str, title: &str, unit: &str, v: f64, n: u64) -> Kpi {
    Kpi {
        id: id.into(),
        title: title.into(),
        unit: unit.into(),
        value: Some((v * 1000.0).round() / 1000.0),
        n: Some(n),
        missing: None,
    }
}

fn none(id: &str, title: &str, unit: &str, why: impl Into<String>) -> Kpi {
    Kpi {
        id: id.into(),
        title: title.into(),
        unit: unit.into(),
        value: None,
        n: None,
        missing: Some(why.into()),
    }
}

/// The `q` quantile (nearest rank) of sorted values.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Every KPI over `facts` (read with the same `since` and `now`).
pub fn compute(
    f: &MeasureFacts,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    cfg: &KpiConfig,
) -> Vec<Kpi> {
    let mut out = Vec::new();
    detection(f, since, now, cfg, &mut out);
    remediation(f, &mut out);
    posture(f, cfg, &mut out);
    out
}

fn detection(
    f: &MeasureFacts,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    cfg: &KpiConfig,
    out: &mut Vec<Kpi>,
) {
    let (id, t) = ("mttd.hours", "mean time to detect (event to alert)");
    out.push(if f.alerts_timed > 0 {
        let h = f.alerts_delay_secs as f64 / f.alerts_timed as f64 / 3600.0;
        val(id, t, "hours", h, f.alerts_timed)
    } else if f.alerts_untimed > 0 {
        none(
            id,
            t,
            "hours",
            "no alert in the window carries an event time",
        )
    } else {
        none(
            id,
            t,
            "hours",
            "no alerts in the window: run `ctem detect --store` on event logs",
        )
    });
    let start = since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let resolved: Vec<i64> = f
        .incidents
        .iter()
        .filter(|i| i.state == IncidentState::Resolved)
        .filter_map(|i| i.resolved_at.map(|r| (i.detected_at, r)))
        .filter(|(_, r)| *r >= start && *r <= now)
        .map(|(d, r)| (r - d).num_seconds().max(0))
        .collect();
    let (id, t) = (
        "mttr.hours",
        "mean time to respond (incident opened to resolved)",
    );
    out.push(if resolved.is_empty() {
        none(
            id,
            t,
            "hours",
            if f.incidents.is_empty() {
                "no incidents: alerts are grouped into incidents after `ctem detect --store`"
            } else {
                "no incident resolved in the window"
            },
        )
    } else {
        let mean = resolved.iter().sum::<i64>() as f64 / resolved.len() as f64 / 3600.0;
        val(id, t, "hours", mean, resolved.len() as u64)
    });
    let from = since.unwrap_or(now - Duration::days(i64::from(cfg.frequency_days)));
    let weeks = ((now - from).num_seconds() as f64 / (7.0 * 86_400.0)).max(1.0 / 7.0);
    let n = f
        .incidents
        .iter()
        .filter(|i| i.detected_at >= from && i.detected_at <= now)
        .count() as u64;
    let (id, t) = (
        "alerts.correlation_share",
        "correlation alerts / all alerts detected in the window",
    );
    let all = f.alerts_timed + f.alerts_untimed;
    out.push(if all == 0 {
        none(id, t, "ratio", "no alerts detected in the window")
    } else {
        val(
            id,
            t,
            "ratio",
            f.alerts_correlation as f64 / all as f64,
            all,
        )
    });
    let (id, t) = ("incidents.per_week", "incidents opened per week");
    out.push(if f.incidents.is_empty() && f.alerts_total == 0 {
        none(
            id,
            t,
            "per week",
            "no alerts stored: no event source is flowing",
        )
    } else {
        val(id, t, "per week", n as f64 / weeks, n)
    });
}

fn remediation(f: &MeasureFacts, out: &mut Vec<Kpi>) {
    let any = f.priorities.iter().any(|p| p.open + p.fixed_in_window > 0)
        || f.priorities.iter().any(|p| p.new_in_window > 0);
    for (p, name) in PRIORITIES {
        let pf = f
            .priorities
            .iter()
            .find(|x| x.priority == p)
            .cloned()
            .unwrap_or(PriorityFacts {
                priority: p,
                ..Default::default()
            });
        times(&pf, name, any, out);
        let id = format!("sla.{name}");
        let t = format!("SLA compliance, P{p} ({name})");
        let total = pf.fixed_in_time + pf.fixed_late + pf.open_in_time + pf.open_overdue;
        out.push(if total == 0 {
            none(
                &id,
                &t,
                "ratio",
                format!("no P{p} exposure open or fixed in the window"),
            )
        } else {
            let ok = (pf.fixed_in_time + pf.open_in_time) as f64 / total as f64;
            val(&id, &t, "ratio", ok, total)
        });
    }
}

fn times(pf: &PriorityFacts, name: &str, any: bool, out: &mut Vec<Kpi>) {
    let p = pf.priority;
    let mut d = pf.remediation_secs.clone();
    d.sort_unstable();
    let why = if any {
        format!("no P{p} exposure fixed in the window")
    } else {
        "no exposures stored: import scans with `ctem import`".into()
    };
    let days = |s: i64| s as f64 / 86_400.0;
    let id = format!("mttr.{name}_days");
    let t = format!("mean time to remediate, P{p} ({name})");
    out.push(if d.is_empty() {
        none(&id, &t, "days", why.clone())
    } else {
        let mean = d.iter().sum::<i64>() as f64 / d.len() as f64;
        val(&id, &t, "days", days(mean as i64), d.len() as u64)
    });
    for (q, label) in [(0.5, "p50"), (0.9, "p90")] {
        let id = format!("remediate.{name}.{label}_days");
        let t = format!("time to remediate, P{p} ({name}), {label}");
        out.push(match quantile(&d, q) {
            Some(v) => val(&id, &t, "days", days(v), d.len() as u64),
            None => none(&id, &t, "days", why.clone()),
        });
    }
}

fn posture(f: &MeasureFacts, cfg: &KpiConfig, out: &mut Vec<Kpi>) {
    let scanned = !f.scanners.is_empty();
    let no_scan = "no scan imported: run `ctem import REPORT`";
    for (p, name) in PRIORITIES {
        let id = format!("open.{name}");
        let t = format!("open exposures, P{p} ({name})");
        let n = f
            .priorities
            .iter()
            .find(|x| x.priority == p)
            .map_or(0, |x| x.open);
        out.push(if scanned {
            val(&id, &t, "count", n as f64, n)
        } else {
            none(&id, &t, "count", no_scan)
        });
    }
    let kev: u64 = f.priorities.iter().map(|p| p.kev_open).sum();
    let kev_inet: u64 = f.priorities.iter().map(|p| p.kev_open_internet).sum();
    let no_kev = "no KEV catalogue loaded: run `ctem intel update` or `ctem intel import`";
    let no_flag = "no asset has an internet-facing flag: import an inventory or set context rules";
    let (id, t) = ("kev_open.total", "open exposures listed in CISA KEV");
    out.push(match (scanned, f.kev_entries > 0) {
        (false, _) => none(id, t, "count", no_scan),
        (_, false) => none(id, t, "count", no_kev),
        _ => val(id, t, "count", kev as f64, kev),
    });
    let (id, t) = (
        "kev_open.internet_facing",
        "open KEV exposures on internet-facing assets",
    );
    out.push(if !scanned {
        none(id, t, "count", no_scan)
    } else if f.kev_entries == 0 {
        none(id, t, "count", no_kev)
    } else if f.assets_exposure_known == 0 {
        none(id, t, "count", no_flag)
    } else {
        val(id, t, "count", kev_inet as f64, kev_inet)
    });
    let surface = [
        (
            "surface.internet_facing_assets",
            "internet-facing assets",
            f.assets_internet_facing,
        ),
        (
            "surface.services",
            "open services on internet-facing assets",
            f.internet_services,
        ),
        (
            "surface.open_ports",
            "distinct open ports on internet-facing assets",
            f.internet_ports,
        ),
    ];
    for (id, t, n) in surface {
        out.push(if f.assets_exposure_known == 0 {
            none(id, t, "count", no_flag)
        } else {
            val(id, t, "count", n as f64, n)
        });
    }
    let (id, t) = (
        "coverage.scanned_assets",
        format!(
            "assets scanned in the last {} days / all known assets",
            cfg.scan_days
        ),
    );
    out.push(if f.assets == 0 {
        none(
            id,
            &t,
            "ratio",
            "no assets known: import scans or an inventory",
        )
    } else {
        val(
            id,
            &t,
            "ratio",
            f.assets_recent as f64 / f.assets as f64,
            f.assets,
        )
    });
    out.push(crate::coverage::techniques_kpi(f, &cfg.techniques));
}

/// The KPI ids goals may name.
pub fn ids() -> Vec<String> {
    compute(
        &MeasureFacts::default(),
        None,
        DateTime::<Utc>::UNIX_EPOCH,
        &KpiConfig::default(),
    )
    .into_iter()
    .map(|k| k.id)
    .collect()
}

/// Reads the facts and computes the KPIs.
pub fn current(
    store: &dyn Store,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    cfg: &KpiConfig,
) -> Result<(MeasureFacts, Vec<Kpi>)> {
    let cutoff = now - Duration::days(i64::from(cfg.scan_days));
    let f = store.measure_facts(since, now, cutoff)?;
    let k = compute(&f, since, now, cfg);
    Ok((f, k))
}

/// KPI values of a snapshot, by id (`null` where it could not be computed).
pub fn snapshot_values(s: &Snapshot) -> Result<BTreeMap<String, Option<f64>>> {
    serde_json::from_str(&s.data).map_err(|e| Error::Snapshot {
        day: s.day.clone(),
        message: e.to_string(),
    })
}

/// Writes today's snapshot (replacing one taken earlier today when `replace`).
pub fn snapshot(
    store: &mut dyn Store,
    now: DateTime<Utc>,
    cfg: &KpiConfig,
    replace: bool,
) -> Result<bool> {
    let (_, kpis) = current(store, None, now, cfg)?;
    let map: BTreeMap<&str, Option<f64>> = kpis.iter().map(|k| (k.id.as_str(), k.value)).collect();
    let snap = Snapshot {
        day: now.format("%Y-%m-%d").to_string(),
        taken_at: now,
        data: serde_json::to_string(&map).map_err(|e| Error::Snapshot {
            day: now.format("%Y-%m-%d").to_string(),
            message: e.to_string(),
        })?,
    };
    Ok(store.put_snapshot(&snap, replace)?)
}

/// The daily hook of commands that change data: at most one snapshot per day, and a
/// single-row lookup when today's exists.
pub fn daily_snapshot(store: &mut dyn Store, now: DateTime<Utc>, cfg: &KpiConfig) -> Result<bool> {
    if store.has_snapshot(&now.format("%Y-%m-%d").to_string())? {
        return Ok(false);
    }
    snapshot(store, now, cfg, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(quantile(&v, 0.5), Some(5));
        assert_eq!(quantile(&v, 0.9), Some(9));
        assert_eq!(quantile(&[7], 0.9), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn an_empty_store_has_no_invented_zero() {
        let k = compute(
            &MeasureFacts::default(),
            None,
            DateTime::<Utc>::UNIX_EPOCH,
            &KpiConfig::default(),
        );
        for x in &k {
            assert!(x.value.is_none() && x.missing.is_some(), "{x:?}");
        }
    }
}
