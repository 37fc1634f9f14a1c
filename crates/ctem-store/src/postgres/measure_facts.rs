//! The aggregate reads behind [`crate::measure::MeasureStore::measure_facts`] on PostgreSQL
//! (the counterpart of `sqlite/measure_facts.rs`): grouped queries, so a million exposures or
//! alerts are counted by the server and never become records in memory (only the durations
//! of fixes in the window are fetched, as integers).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{PgStore, ts};
use crate::Result;
use crate::measure::{
    EventSourceFacts, FeedFacts, MeasureFacts, MeasureStore, PriorityFacts, ScannerFacts,
    TacticFacts,
};

/// Days from 0001-01-01 (the store's day numbers) to 1970-01-01.
const EPOCH_DAY: i64 = 719_163;

/// The tool name of inventory imports.
const INVENTORY: &str = "inventory";

pub(super) fn read(
    s: &PgStore,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    scan_cutoff: DateTime<Utc>,
) -> Result<MeasureFacts> {
    let since = since.map_or(i64::MIN, |t| t.timestamp());
    let mut f = MeasureFacts::default();
    {
        let mut db = s.db();
        let r = db.query_one(
            "SELECT count(event_time), coalesce(sum(detected_at - event_time), 0)::int8,
                    count(*) - count(event_time)
             FROM alerts WHERE detected_at >= $1 AND detected_at <= $2",
            &[&since, &now.timestamp()],
        )?;
        f.alerts_timed = r.get::<_, i64>(0) as u64;
        f.alerts_delay_secs = r.get(1);
        f.alerts_untimed = r.get::<_, i64>(2) as u64;
        // few: correlations fire once per group and window (partial index, migration 53)
        f.alerts_correlation = db
            .query_one(
                "SELECT count(*) FROM alerts
                 WHERE kind = 'correlation' AND detected_at >= $1 AND detected_at <= $2",
                &[&since, &now.timestamp()],
            )?
            .get::<_, i64>(0) as u64;
        f.alerts_total = db
            .query_one("SELECT count(*) FROM alerts", &[])?
            .get::<_, i64>(0) as u64;
        f.kev_entries = db
            .query_one("SELECT count(*) FROM intel_kev", &[])?
            .get::<_, i64>(0) as u64;
        f.scanners = db
            .query(
                "SELECT tool, count(*), max(imported_at) FROM scans GROUP BY tool
                 ORDER BY tool COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| ScannerFacts {
                tool: r.get(0),
                scans: r.get::<_, i64>(1) as u64,
                last_import: ts(r.get(2)),
            })
            .collect();
    }
    f.priorities = priorities(s, since, now)?;
    assets(s, &mut f, scan_cutoff)?;
    f.incidents = s.incidents()?;
    f.logsources = super::measure_seen::seen_logsources(s)?;
    f.rules = super::measure_seen::detection_rules(s)?;
    Ok(f)
}

/// Counts per priority (0 for an exposure without a score) in one grouped pass, the
/// durations of the fixes in the window in a second, the KEV-on-internet-facing count in a
/// third, narrow one.
fn priorities(s: &PgStore, since: i64, now: DateTime<Utc>) -> Result<Vec<PriorityFacts>> {
    let today = now.timestamp().div_euclid(86_400) + EPOCH_DAY;
    let mut out: Vec<PriorityFacts> = (0..=4u8)
        .map(|p| PriorityFacts {
            priority: p,
            ..Default::default()
        })
        .collect();
    let slot = |p: i64| p.clamp(0, 4) as usize;
    let mut db = s.db();
    const OPEN: &str = "e.status IN ('open', 'reopened')";
    const FIXED: &str = "e.status = 'fixed' AND e.fixed_at IS NOT NULL AND e.fixed_at >= $1";
    let fixed_day = format!("(floor(e.fixed_at / 86400.0)::int8 + {EPOCH_DAY})");
    let rows = db.query(
        &format!(
            "SELECT coalesce(r.priority, 0),
                count(*) FILTER (WHERE e.first_seen >= $1),
                count(*) FILTER (WHERE {OPEN}),
                count(*) FILTER (WHERE {OPEN} AND r.kev = 1),
                count(*) FILTER (WHERE {OPEN} AND r.due < $2),
                count(*) FILTER (WHERE {OPEN} AND r.due >= $2),
                count(*) FILTER (WHERE {FIXED}),
                count(*) FILTER (WHERE {FIXED} AND {fixed_day} <= r.due),
                count(*) FILTER (WHERE {FIXED} AND {fixed_day} > r.due)
             FROM exposures e LEFT JOIN exposure_risk r ON r.exposure_id = e.id GROUP BY 1"
        ),
        &[&since, &today],
    )?;
    for r in rows {
        let x = &mut out[slot(r.get(0))];
        let n = |i: usize| r.get::<_, i64>(i) as u64;
        x.new_in_window = n(1);
        x.open = n(2);
        x.kev_open = n(3);
        x.open_overdue = n(4);
        x.open_in_time = n(5);
        x.fixed_in_window = n(6);
        x.fixed_in_time = n(7);
        x.fixed_late = n(8);
    }
    for r in db.query(
        &format!(
            "SELECT coalesce(r.priority, 0), greatest(e.fixed_at - e.first_seen, 0)
             FROM exposures e LEFT JOIN exposure_risk r ON r.exposure_id = e.id
             WHERE {FIXED} ORDER BY e.id"
        ),
        &[&since],
    )? {
        out[slot(r.get(0))].remediation_secs.push(r.get(1));
    }
    for r in db.query(
        "SELECT r.priority, count(*) FROM exposure_risk r
         JOIN exposures e ON e.id = r.exposure_id JOIN assets a ON a.id = e.asset_id
         WHERE r.kev = 1 AND e.status IN ('open', 'reopened') AND a.internet_facing = 1
         GROUP BY 1",
        &[],
    )? {
        out[slot(r.get(0))].kev_open_internet += r.get::<_, i64>(1) as u64;
    }
    Ok(out)
}

/// Assets, their owners and flags; "scanned" means reported by a source other than an
/// inventory import, "recently" a scan's last sighting at or after `scan_cutoff`.
fn assets(s: &PgStore, f: &mut MeasureFacts, scan_cutoff: DateTime<Utc>) -> Result<()> {
    let mut db = s.db();
    let c = db.query_one(
        "SELECT count(*), count(internet_facing), count(*) FILTER (WHERE internet_facing = 1),
                count(*) FILTER (WHERE owner_team IS NULL OR owner_team = '')
         FROM assets",
        &[],
    )?;
    f.assets = c.get::<_, i64>(0) as u64;
    f.assets_exposure_known = c.get::<_, i64>(1) as u64;
    f.assets_internet_facing = c.get::<_, i64>(2) as u64;
    f.assets_without_owner = c.get::<_, i64>(3) as u64;
    let r = db.query_one(
        "SELECT count(*), count(*) FILTER (WHERE last >= $2) FROM
            (SELECT x.asset_id, max(x.last_seen) AS last FROM asset_sources x
             JOIN sources src ON src.id = x.source_id WHERE src.tool <> $1
             GROUP BY x.asset_id) s",
        &[&INVENTORY, &scan_cutoff.timestamp()],
    )?;
    f.assets_recent = r.get::<_, i64>(1) as u64;
    f.assets_never_scanned = f.assets.saturating_sub(r.get::<_, i64>(0) as u64);
    let r = db.query_one(
        "SELECT count(*), count(DISTINCT v.protocol || '/' || v.port::text)
         FROM services v JOIN assets a ON a.id = v.asset_id
         WHERE a.internet_facing = 1 AND v.state = 'open'",
        &[],
    )?;
    f.internet_services = r.get::<_, i64>(0) as u64;
    f.internet_ports = r.get::<_, i64>(1) as u64;
    Ok(())
}

pub(super) fn sources(s: &PgStore, f: &mut MeasureFacts) -> Result<()> {
    f.tactics = tactics(s)?;
    let mut db = s.db();
    f.event_sources = db
        .query(
            "SELECT coalesce(source, '(unnamed)'), count(*), max(detected_at) FROM alerts
             GROUP BY 1 ORDER BY coalesce(source, '(unnamed)') COLLATE \"C\"",
            &[],
        )?
        .iter()
        .map(|r| EventSourceFacts {
            source: r.get(0),
            alerts: r.get::<_, i64>(1) as u64,
            last_detected: ts(r.get(2)),
        })
        .collect();
    f.feeds = db
        .query(
            "SELECT name, checked_at, updated_at FROM intel_feeds ORDER BY name COLLATE \"C\"",
            &[],
        )?
        .iter()
        .map(|r| FeedFacts {
            name: r.get(0),
            checked_at: r.get::<_, Option<i64>>(1).map(ts),
            updated_at: r.get::<_, Option<i64>>(2).map(ts),
        })
        .collect();
    Ok(())
}

/// Techniques per tactic (ATT&CK import), and which of them an alert tag names.
fn tactics(s: &PgStore) -> Result<Vec<TacticFacts>> {
    let mut db = s.db();
    let mut alerted: BTreeSet<String> = BTreeSet::new();
    for r in db.query("SELECT DISTINCT tags FROM alerts", &[])? {
        let tags: Vec<String> = serde_json::from_str(r.get(0)).unwrap_or_default();
        for t in tags {
            if let Some(id) = t.strip_prefix("attack.")
                && id.starts_with(['t', 'T'])
                && id[1..].starts_with(|c: char| c.is_ascii_digit())
            {
                alerted.insert(id.to_ascii_uppercase());
            }
        }
    }
    let rows = db.query(
        "SELECT p.value, a.attack_id FROM intel_attack a,
             jsonb_array_elements_text(CASE WHEN jsonb_typeof(a.data::jsonb -> 'tactics') = 'array'
                                       THEN a.data::jsonb -> 'tactics' ELSE '[]'::jsonb END) p
         WHERE a.kind = 'technique' AND a.revoked = 0 AND a.deprecated = 0",
        &[],
    )?;
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in rows {
        let (tactic, id): (String, String) = (r.get(0), r.get(1));
        let e = by.entry(tactic).or_default();
        e.0 += 1;
        // a sub-technique alert covers its parent and the parent covers none of its children
        if alerted.contains(&id) || alerted.iter().any(|a| a.starts_with(&format!("{id}."))) {
            e.1 += 1;
        }
    }
    Ok(by
        .into_iter()
        .map(|(tactic, (techniques, alerted))| TacticFacts {
            tactic,
            techniques,
            alerted,
        })
        .collect())
}
