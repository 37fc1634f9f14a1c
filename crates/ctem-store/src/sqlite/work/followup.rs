//! The follow-up of a committed import or intelligence refresh: enrichment and
//! prioritisation of what changed, recorded so a failure is retried on its own.
//!
//! What changed is recorded in the same transaction as the change: the exposures of the
//! assets an import reported and the ones it closed (`followup_exposures`), every exposure
//! above the id the last pass saw (`followup_state.scored_max`), the exposures whose CVE's
//! KEV or EPSS facts an intelligence import changed, an exposure whose status was set by
//! hand. The follow-up scores those and the ticket groups they are in, then clears the
//! record. Everything is scored again instead when the change is large, when the settings
//! of the risk model differ from the last pass's, or on the first pass of a day (SLA
//! breaches and expired risk acceptances move with the date).

use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use std::time::Instant;

use ctem_model::context::ContextRules;

use super::prioritize::{
    self, AssetInfo, Interner, load_details, load_intel, load_services, sync_tickets,
};
use super::scan::{Row, Shared, scan_scope_and_write};
use super::{day_num, load_rules};
use crate::Result;
use crate::work::{FollowUpState, Prioritize, PrioritizeSummary};

pub(crate) const MIGRATION_40: &str = r#"
CREATE TABLE followup_exposures (exposure_id INTEGER PRIMARY KEY);
CREATE TABLE followup_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    full        INTEGER NOT NULL,
    scored_max  INTEGER NOT NULL,
    settings    TEXT,
    scored_day  INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
INSERT INTO followup_state(id, full, scored_max) VALUES (1, 1, 0);
"#;

/// More changed exposures than this and the follow-up scores everything (one pass over the
/// store costs less than many scoped lookups).
const FULL_OVER: i64 = 100_000;

/// Marks exposures for the follow-up.
pub(crate) fn mark_ids(tx: &rusqlite::Connection, ids: &[i64]) -> Result<()> {
    let mut st =
        tx.prepare_cached("INSERT OR IGNORE INTO followup_exposures(exposure_id) VALUES (?1)")?;
    for id in ids {
        st.execute([id])?;
    }
    Ok(())
}

/// Marks the exposures (up to id `max_before`) of the assets in `temp.import_assets`: an
/// import may have changed their asset's facts. Newer exposures are new to the follow-up
/// anyway.
pub(crate) fn mark_import_assets(tx: &rusqlite::Connection, max_before: i64) -> Result<()> {
    const OF_ASSETS: &str = "FROM exposures WHERE asset_id IN (SELECT id FROM temp.import_assets)
                             AND id <= ?1";
    let n: i64 = tx.query_row(&format!("SELECT count(*) {OF_ASSETS}"), [max_before], |r| {
        r.get(0)
    })?;
    if n > FULL_OVER {
        return mark_full(tx);
    }
    tx.execute(
        &format!("INSERT OR IGNORE INTO followup_exposures(exposure_id) SELECT id {OF_ASSETS}"),
        [max_before],
    )?;
    Ok(())
}

/// Marks the exposures whose CVE is in `temp.enrich_changed`.
pub(crate) fn mark_changed_cves(tx: &rusqlite::Connection) -> Result<()> {
    let n: i64 = tx.query_row("SELECT count(*) FROM temp.enrich_changed", [], |r| r.get(0))?;
    if n == 0 {
        return Ok(());
    }
    if n > 2_000 {
        return mark_full(tx);
    }
    tx.execute(
        "INSERT OR IGNORE INTO followup_exposures(exposure_id)
         SELECT e.id FROM exposures e JOIN exposure_details d ON d.id = e.detail_id
         WHERE d.cve IN (SELECT cve FROM temp.enrich_changed)",
        [],
    )?;
    Ok(())
}

pub(crate) fn mark_full(tx: &rusqlite::Connection) -> Result<()> {
    tx.execute("UPDATE followup_state SET full = 1", [])?;
    Ok(())
}

/// What the risk settings of a pass were (context rules included), and whether a KEV
/// catalog was stored (it turns "KEV status unknown" into "not in KEV" for every CVE it
/// does not list), to know when they change.
fn fingerprint(tx: &rusqlite::Connection, ctx: &Prioritize<'_>) -> Result<String> {
    let kev_catalog = super::assets::kev_catalog_loaded(tx)?;
    let text = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{kev_catalog}",
        ctx.model, ctx.sla, ctx.config_rules, ctx.config_teams, ctx.context
    );
    Ok(hex_of(&Sha256::digest(text.as_bytes())))
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Enriches and scores what changed since the last pass; everything when it must.
pub(super) fn run(tx: &Transaction<'_>, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let (full, scored_max, settings, day): (bool, i64, Option<String>, Option<i64>) = tx
        .query_row(
            "SELECT full, scored_max, settings, scored_day FROM followup_state WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .unwrap_or((true, 0, None, None));
    let fp = fingerprint(tx, ctx)?;
    let today = day_num(ctx.now.date_naive());
    let mut whole = full
        || settings.as_deref() != Some(fp.as_str())
        || day != Some(today)
        || ctx.intel.is_some();
    let mut summary = None;
    if !whole {
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS risk_scope(id INTEGER PRIMARY KEY);
             DELETE FROM temp.risk_scope;
             INSERT INTO temp.risk_scope(id) SELECT exposure_id FROM followup_exposures;",
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO temp.risk_scope(id) SELECT id FROM exposures WHERE id > ?1",
            [scored_max],
        )?;
        let n: i64 = tx.query_row("SELECT count(*) FROM temp.risk_scope", [], |r| r.get(0))?;
        if n > FULL_OVER {
            whole = true;
        } else {
            crate::sqlite::intel::enrich_scope(tx)?;
            summary = run_scoped(tx, ctx)?;
            whole = summary.is_none();
        }
    }
    let summary = match summary {
        Some(s) if !whole => s,
        _ => {
            crate::sqlite::intel::run_pass(tx)?;
            prioritize::run(tx, ctx)?
        }
    };
    finish(tx, ctx)?;
    Ok(summary)
}

/// The follow-up pass: scores the exposures of `temp.risk_scope`, then every active exposure
/// of the ticket groups they left or joined, and regroups those tickets. `None` when a
/// ticket group lost its last active exposure: the caller runs the whole pass instead.
pub(super) fn run_scoped(
    tx: &Transaction<'_>,
    ctx: &Prioritize<'_>,
) -> Result<Option<PrioritizeSummary>> {
    let started = Instant::now();
    let rules = load_rules(tx)?;
    let context = ContextRules::build(ctx.context, &rules)
        .map_err(|e| crate::Error::Invalid(e.to_string()))?;
    // the groups the scope's exposures are in before they are scored again
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS risk_groups(grp INTEGER PRIMARY KEY);
         DELETE FROM temp.risk_groups;
         INSERT OR IGNORE INTO temp.risk_groups
           SELECT grp FROM exposure_risk
           WHERE grp IS NOT NULL AND exposure_id IN (SELECT id FROM temp.risk_scope);",
    )?;
    let mut open = [0; 4];
    let (mut rows, mut strings, mut assets) = score_scope(tx, ctx, &context, &mut open, true)?;
    {
        let mut ins = tx.prepare("INSERT OR IGNORE INTO temp.risk_groups(grp) VALUES (?1)")?;
        for r in &rows {
            ins.execute([r.grp])?;
        }
    }
    // every active member of those groups joins the scope: a ticket is made of all of them
    // (their scores did not change: they are read for the tickets, not written again)
    let grown = tx.execute(
        "INSERT OR IGNORE INTO temp.risk_scope(id)
         SELECT exposure_id FROM exposure_risk WHERE grp IN (SELECT grp FROM temp.risk_groups)",
        [],
    )?;
    if grown > 0 {
        open = [0; 4];
        (rows, strings, assets) = score_scope(tx, ctx, &context, &mut open, false)?;
    }
    let mut summary = PrioritizeSummary {
        scored: rows.len() as u64,
        open_by_priority: open,
        incremental: true,
        ..PrioritizeSummary::default()
    };
    let scored_at = started.elapsed();
    let t_tickets = Instant::now();
    if ctx.tickets {
        let today = ctx.now.date_naive();
        let now = ctx.now.timestamp();
        let parts = [rows];
        if !sync_tickets(
            tx,
            &parts,
            &assets,
            &strings,
            (today, now),
            true,
            &mut summary,
        )? {
            return Ok(None);
        }
    }
    summary.score_ms = scored_at.as_millis() as u64;
    summary.tickets_ms = t_tickets.elapsed().as_millis() as u64;
    Ok(Some(summary))
}

/// Loads what the exposures of `temp.risk_scope` need, scores them and (with `write`)
/// replaces their `exposure_risk` rows.
fn score_scope(
    tx: &Transaction<'_>,
    ctx: &Prioritize<'_>,
    context: &ContextRules,
    open: &mut [u64; 4],
    write: bool,
) -> Result<(Vec<Row>, Interner, Vec<AssetInfo>)> {
    let mut strings = Interner::default();
    let (assets, index) = super::assets::load_assets(tx, context, &mut strings, true)?;
    let services = load_services(tx, true)?;
    let kev_catalog = super::assets::kev_catalog_loaded(tx)?;
    let stored_intel;
    let intel: &dyn crate::work::IntelLookup = match ctx.intel {
        Some(i) => i,
        None => {
            stored_intel = load_intel(tx, true)?;
            &stored_intel
        }
    };
    let (details, detail_index) = load_details(tx, intel, true)?;
    let shared = Shared {
        model: ctx.model,
        sla: ctx.sla,
        today: ctx.now.date_naive(),
        assets: &assets,
        index: &index,
        services: &services,
        details: &details,
        detail_index: &detail_index,
        kev_catalog,
    };
    let rows = scan_scope_and_write(tx, &shared, &mut strings, open, write)?;
    Ok((rows, strings, assets))
}

/// Clears the record after a pass that scored everything that changed.
pub(super) fn finish(tx: &Transaction<'_>, ctx: &Prioritize<'_>) -> Result<()> {
    tx.execute("DELETE FROM followup_exposures", [])?;
    tx.execute(
        "UPDATE followup_state SET full = 0,
            scored_max = (SELECT coalesce(max(id), 0) FROM exposures),
            settings = ?1, scored_day = ?2, attempts = 0, last_error = NULL
         WHERE id = 1",
        params![fingerprint(tx, ctx)?, day_num(ctx.now.date_naive())],
    )?;
    Ok(())
}

pub(super) fn state(conn: &rusqlite::Connection) -> Result<FollowUpState> {
    let (full, scored_max, attempts, last_error): (bool, i64, u32, Option<String>) = conn
        .query_row(
            "SELECT full, scored_max, attempts, last_error FROM followup_state WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .unwrap_or((true, 0, 0, None));
    let marked: i64 =
        conn.query_row("SELECT count(*) FROM followup_exposures", [], |r| r.get(0))?;
    let new: i64 = conn.query_row(
        "SELECT count(*) FROM exposures WHERE id > ?1",
        [scored_max],
        |r| r.get(0),
    )?;
    Ok(FollowUpState {
        pending: u64::try_from(marked + new).unwrap_or(0),
        full,
        attempts,
        last_error,
    })
}

pub(super) fn failed(conn: &rusqlite::Connection, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE followup_state SET attempts = attempts + 1, last_error = ?1 WHERE id = 1",
        [error],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use ctem_model::context::ContextRule;
    use ctem_model::intel::{EpssScore, KevEntry};
    use ctem_model::{
        Asset, AssetKind, Exposure, ExposureKind, ExposureStatus, Package, Record, Severity,
    };
    use ctem_risk::{RiskModel, SlaConfig};

    use crate::intel::{IntelBatch, IntelStore};
    use crate::sqlite::SqliteStore;
    use crate::work::{Prioritize, PrioritizeSummary, WorkStore};
    use crate::{ScanMeta, Store};

    /// Scores and tickets, as text, compared exactly.
    fn dump(store: &SqliteStore) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT exposure_id || ' ' || score || ' ' || priority || ' ' || ssvc || ' ' || kev
                    || ' ' || coalesce(due, '-') || ' ' || coalesce(team, '-')
                    || ' ' || coalesce(grp, '-')
             FROM exposure_risk ORDER BY exposure_id",
            "SELECT key || ' ' || state || ' ' || coalesce(target_version, '-') || ' ' || priority
                    || ' ' || exposures || ' ' || assets || ' ' || kev || ' ' || risk
                    || ' ' || coalesce(due, '-') || ' ' || breached
             FROM tickets ORDER BY key",
        ] {
            let mut st = store.conn.prepare(sql).expect("prepare");
            let rows = st.query_map([], |r| r.get::<_, String>(0)).expect("query");
            out.extend(rows.map(|r| r.expect("row")));
        }
        out
    }

    fn scan(store: &mut SqliteStore, day: u32, assets: &[(u32, &[u32])]) {
        let meta = ScanMeta {
            tool: "trivy".into(),
            format: "trivy".into(),
            scope: None,
            file: format!("scan-{day}.json"),
            sha256: format!("{day}"),
            imported_at: Utc
                .with_ymd_and_hms(2026, 1, day, 0, 0, 0)
                .single()
                .expect("date"),
        };
        let mut s = store.begin_import(meta).expect("begin");
        for (k, (asset, vulns)) in assets.iter().enumerate() {
            let key = k as u32;
            let mut a = Asset::new(AssetKind::ContainerImage, format!("registry/app-{asset}"));
            a.tags = vec![format!("team-{}", asset % 2)];
            s.record(Record::Asset { key, asset: a }).expect("asset");
            for j in vulns.iter() {
                let cve = format!("CVE-2024-{}", 1000 + j);
                let mut e = Exposure::new(
                    ExposureKind::Vulnerability,
                    format!("{cve} in lib{}", j % 4),
                    Severity::ALL[(*j % 5) as usize],
                );
                e.add_vuln_id(&cve);
                e.package = Some(Package {
                    // a package per pair of assets: ticket groups cover part of the fleet
                    name: format!("lib{}-{}", j % 4, asset % 4),
                    version: Some(format!("1.{asset}")),
                    fixed_version: (j % 3 != 0).then(|| format!("1.{}", asset + 1)),
                    ..Package::default()
                });
                s.record(Record::Exposure {
                    asset: key,
                    exposure: Box::new(e),
                })
                .expect("exposure");
            }
        }
        s.commit().expect("commit");
    }

    /// The same changes on two stores: one follows up incrementally, the other re-scores
    /// everything after each; scores and tickets must be the same after every step.
    #[test]
    fn the_incremental_follow_up_leaves_what_the_whole_pass_leaves() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut inc = SqliteStore::open(dir.path().join("inc.db")).expect("open");
        let mut all = SqliteStore::open(dir.path().join("all.db")).expect("open");
        let model = RiskModel::default();
        let sla = SlaConfig::default();
        // asset context rules: one on the reporting tool (an inventory import changes which
        // assets it matches), one on tags
        let context = [
            ContextRule {
                source: Some("inventory".into()),
                internet_facing: Some(true),
                ..ContextRule::default()
            },
            ContextRule {
                tag: Some("team-1".into()),
                zone: Some("dmz".into()),
                ..ContextRule::default()
            },
        ];
        let ctx = Prioritize {
            model: &model,
            sla: &sla,
            intel: None,
            config_rules: None,
            config_teams: &[],
            context: &context,
            tickets: true,
            now: Utc
                .with_ymd_and_hms(2026, 2, 1, 12, 0, 0)
                .single()
                .expect("date"),
        };
        let every: Vec<u32> = (0..12).collect();
        let some: Vec<u32> = (0..6).collect();
        let other: Vec<u32> = (6..12).collect();
        let fleet: Vec<(u32, &[u32])> = (0..8).map(|a| (a, every.as_slice())).collect();
        type Step<'a> = Box<dyn Fn(&mut SqliteStore) + 'a>;
        let steps: Vec<(&str, Step<'_>)> = vec![
            ("first scan", Box::new(|s| scan(s, 1, &fleet))),
            // asset 2 now reports only half: the other half is fixed
            (
                "a subset",
                Box::new(|s| scan(s, 2, &[(2, some.as_slice())])),
            ),
            // a new asset and new exposures on an old one
            (
                "new findings",
                Box::new(|s| scan(s, 3, &[(9, every.as_slice()), (3, other.as_slice())])),
            ),
            (
                "a status by hand",
                Box::new(|s| {
                    let id: i64 = s
                        .conn
                        .query_row("SELECT min(id) FROM exposures", [], |r| r.get(0))
                        .expect("id");
                    s.set_status(id, ExposureStatus::Accepted, "test")
                        .expect("status");
                }),
            ),
            (
                "intelligence on two CVEs",
                Box::new(|s| {
                    let epss = |cve: &str, p: f64| EpssScore {
                        cve_id: cve.into(),
                        epss: p,
                        percentile: p,
                        date: NaiveDate::from_ymd_opt(2026, 1, 30),
                    };
                    s.import_intel(IntelBatch {
                        source: "epss.csv".into(),
                        kind: "epss".into(),
                        epss: vec![epss("CVE-2024-1001", 0.97), epss("CVE-2024-1007", 0.5)],
                        ..IntelBatch::default()
                    })
                    .expect("intel");
                }),
            ),
            // asset 2 reports everything again: the fixed half is reopened
            (
                "reopened",
                Box::new(|s| scan(s, 4, &[(2, every.as_slice())])),
            ),
            // an inventory states the criticality of an asset (and reports it: the source rule
            // now matches it)
            (
                "an inventory",
                Box::new(|s| {
                    let mut i = s
                        .begin_import(ScanMeta {
                            tool: "inventory".into(),
                            format: "inventory".into(),
                            scope: None,
                            file: "cmdb.csv".into(),
                            sha256: "cmdb".into(),
                            imported_at: Utc
                                .with_ymd_and_hms(2026, 1, 4, 12, 0, 0)
                                .single()
                                .expect("date"),
                        })
                        .expect("begin");
                    let mut a = Asset::new(AssetKind::ContainerImage, "registry/app-4");
                    a.criticality = Some(5);
                    i.record(Record::Asset { key: 0, asset: a }).expect("asset");
                    i.commit().expect("commit");
                }),
            ),
            // the first KEV catalog: CVEs it does not list become "not in KEV"
            (
                "a KEV catalog",
                Box::new(|s| {
                    let kev = KevEntry {
                        cve_id: "CVE-2024-1003".into(),
                        vendor_project: "v".into(),
                        product: "p".into(),
                        vulnerability_name: "n".into(),
                        date_added: NaiveDate::from_ymd_opt(2026, 1, 2).expect("date"),
                        short_description: "d".into(),
                        required_action: "patch".into(),
                        due_date: NaiveDate::from_ymd_opt(2026, 3, 1),
                        known_ransomware_campaign_use: None,
                        notes: String::new(),
                        cwes: Vec::new(),
                    };
                    s.import_intel(IntelBatch {
                        source: "kev.json".into(),
                        kind: "kev".into(),
                        kev: vec![kev],
                        ..IntelBatch::default()
                    })
                    .expect("intel");
                }),
            ),
            // every asset drops lib0 (j % 4 == 0): its tickets lose their last exposure
            (
                "a group emptied",
                Box::new(|s| {
                    let no_lib0: Vec<u32> = (0..12).filter(|j| j % 4 != 0).collect();
                    let f: Vec<(u32, &[u32])> = [0, 1, 2, 3, 4, 5, 6, 7, 9]
                        .map(|a| (a, no_lib0.as_slice()))
                        .to_vec();
                    scan(s, 5, &f)
                }),
            ),
        ];
        let mut incremental_steps = 0;
        for (name, step) in &steps {
            step(&mut inc);
            step(&mut all);
            let s: PrioritizeSummary = inc.follow_up(&ctx).expect("follow up");
            all.reprioritize(&ctx).expect("whole pass");
            assert_eq!(dump(&inc), dump(&all), "after {name}");
            let total: i64 = inc
                .conn
                .query_row("SELECT count(*) FROM exposures", [], |r| r.get(0))
                .expect("count");
            if s.incremental {
                incremental_steps += 1;
                assert!((s.scored as i64) < total, "{name}: {} of {total}", s.scored);
            }
            if ["a subset", "a status by hand", "intelligence on two CVEs"].contains(name) {
                assert!(s.incremental, "{name} is followed up incrementally");
            }
            assert_eq!(inc.follow_up_state().expect("state").pending, 0);
        }
        assert!(
            incremental_steps >= 4,
            "{incremental_steps} incremental steps"
        );
    }
}
