//! The follow-up's record in SQLite: what an import, an intelligence change or a status set
//! by hand touched, recorded in the same transaction as the change, and the scope a
//! follow-up pass scores (`temp.risk_scope`). When to score everything instead is the
//! domain's decision (`ctem_core::prioritize`).
//!
//! What is recorded: the exposures of the assets an import reported and the ones it closed
//! (`followup_exposures`), every exposure above the id the last pass saw
//! (`followup_state.scored_max`), the exposures whose CVE's KEV or EPSS facts an
//! intelligence import changed, an exposure whose status was set by hand; and a `full` flag
//! when a change is too large to list.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};

use super::{day_num, day_of};
use crate::Result;
use crate::risk::FollowUpMark;
use crate::work::FollowUpState;

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

pub(super) fn mark(tx: &Connection) -> Result<FollowUpMark> {
    let mark = tx
        .query_row(
            "SELECT full, scored_max, settings, scored_day FROM followup_state WHERE id = 1",
            [],
            |r| {
                Ok(FollowUpMark {
                    full: r.get(0)?,
                    scored_max: r.get(1)?,
                    settings: r.get(2)?,
                    scored_day: day_of(r.get(3)?),
                })
            },
        )
        .optional()?;
    Ok(mark.unwrap_or(FollowUpMark {
        full: true,
        ..FollowUpMark::default()
    }))
}

/// Builds `temp.risk_scope`: the recorded exposures and those above `scored_max`.
pub(super) fn open_scope(tx: &Connection, scored_max: i64) -> Result<u64> {
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
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The stored ticket groups of the scope's exposures.
pub(super) fn scope_groups(tx: &Connection) -> Result<Vec<i64>> {
    let mut st = tx.prepare(
        "SELECT DISTINCT grp FROM exposure_risk
         WHERE grp IS NOT NULL AND exposure_id IN (SELECT id FROM temp.risk_scope)",
    )?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Adds the exposures of `groups` to the scope.
pub(super) fn grow_scope(tx: &Connection, groups: &[i64]) -> Result<u64> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS risk_groups(grp INTEGER PRIMARY KEY);
         DELETE FROM temp.risk_groups;",
    )?;
    {
        let mut ins = tx.prepare("INSERT OR IGNORE INTO temp.risk_groups(grp) VALUES (?1)")?;
        for g in groups {
            ins.execute([g])?;
        }
    }
    let grown = tx.execute(
        "INSERT OR IGNORE INTO temp.risk_scope(id)
         SELECT exposure_id FROM exposure_risk WHERE grp IN (SELECT grp FROM temp.risk_groups)",
        [],
    )?;
    Ok(grown as u64)
}

/// Clears the record after a pass that scored everything that changed.
pub(super) fn finish(tx: &Connection, settings: &str, day: NaiveDate) -> Result<()> {
    tx.execute("DELETE FROM followup_exposures", [])?;
    tx.execute(
        "UPDATE followup_state SET full = 0,
            scored_max = (SELECT coalesce(max(id), 0) FROM exposures),
            settings = ?1, scored_day = ?2, attempts = 0, last_error = NULL
         WHERE id = 1",
        params![settings, day_num(day)],
    )?;
    Ok(())
}

pub(super) fn state(conn: &Connection) -> Result<FollowUpState> {
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

pub(super) fn failed(conn: &Connection, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE followup_state SET attempts = attempts + 1, last_error = ?1 WHERE id = 1",
        [error],
    )?;
    Ok(())
}
