//! Asset context in SQLite (migration 22): where each stored asset fact came from, which
//! sources reported an asset, the environment column, and ownership rule priorities.
//!
//! An import writes facts by rank: an inventory import (`format = inventory`) overwrites the
//! facts it states and marks them `inventory`; a scanner sets a fact only where no inventory
//! stated it. Rules are configuration and are applied when facts are read (the
//! prioritisation pass, `ctem assets`), never stored, so changing a rule needs one re-score,
//! not a re-import.

use ctem_model::Asset;
use ctem_model::context::{FactSource, FactSources};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::Result;

/// Asset facts' sources, the sources that reported each asset, rule priorities. The
/// backfill gives assets stored earlier the sources of their exposures. The stored scores
/// are dropped: the model changed with this migration (exploited first, neutral unknown
/// context, no-fix leaves the urgency alone), and the CLI re-scores a store without scores
/// when it opens it.
pub(crate) const MIGRATION_22: &str = r#"
ALTER TABLE assets ADD COLUMN environment TEXT;
ALTER TABLE assets ADD COLUMN fact_sources TEXT NOT NULL DEFAULT '{}';
ALTER TABLE ownership_rules ADD COLUMN priority INTEGER;
CREATE TABLE asset_sources (
    asset_id   INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    source_id  INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (asset_id, source_id)
) WITHOUT ROWID;
CREATE INDEX asset_sources_source ON asset_sources(source_id, asset_id);
INSERT OR IGNORE INTO asset_sources(asset_id, source_id, first_seen, last_seen)
    SELECT asset_id, source_id, min(first_seen), max(last_seen) FROM exposure_sources
    GROUP BY asset_id, source_id;
DELETE FROM exposure_risk;
"#;

/// The tool name of inventory imports; assets that only it reported were never scanned.
pub(crate) const INVENTORY: &str = "inventory";

/// The facts an asset record states, as (fact name, column, value).
fn stated(asset: &Asset) -> Vec<(&'static str, &'static str, rusqlite::types::Value)> {
    use rusqlite::types::Value as V;
    let mut out = Vec::new();
    if let Some(c) = asset.criticality {
        out.push(("criticality", "criticality", V::Integer(i64::from(c))));
    }
    if let Some(z) = asset.zone.clone().filter(|z| !z.trim().is_empty()) {
        out.push(("zone", "zone", V::Text(z)));
    }
    if let Some(i) = asset.internet_facing {
        out.push((
            "internet_facing",
            "internet_facing",
            V::Integer(i64::from(i)),
        ));
    }
    if let Some(t) = asset.owner_team.clone().filter(|t| !t.trim().is_empty()) {
        out.push(("team", "owner_team", V::Text(t)));
    }
    if let Some(e) = asset.environment.clone().filter(|e| !e.trim().is_empty()) {
        out.push(("environment", "environment", V::Text(e)));
    }
    out
}

/// The sources JSON of a new asset's stated facts.
pub(crate) fn new_fact_sources(asset: &Asset, source: FactSource) -> String {
    let map: FactSources = stated(asset)
        .into_iter()
        .map(|(f, _, _)| (f.to_owned(), source))
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// Writes the facts `asset` states onto the stored asset `id`, by rank: `source` inventory
/// overwrites; a scanner fills only facts no inventory stated.
pub(crate) fn merge_facts(
    tx: &Transaction<'_>,
    id: i64,
    asset: &Asset,
    source: FactSource,
) -> Result<()> {
    let facts = stated(asset);
    if facts.is_empty() {
        return Ok(());
    }
    let text: String = tx
        .prepare_cached("SELECT fact_sources FROM assets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let mut sources: FactSources = serde_json::from_str(&text).unwrap_or_default();
    let mut changed = false;
    for (fact, column, value) in facts {
        if source != FactSource::Inventory && sources.get(fact) == Some(&FactSource::Inventory) {
            continue;
        }
        tx.execute(
            &format!("UPDATE assets SET {column} = ?2 WHERE id = ?1"),
            params![id, value],
        )?;
        sources.insert(fact.to_owned(), source);
        changed = true;
    }
    if changed {
        tx.prepare_cached("UPDATE assets SET fact_sources = ?2 WHERE id = ?1")?
            .execute(params![
                id,
                serde_json::to_string(&sources).unwrap_or_else(|_| "{}".into())
            ])?;
    }
    Ok(())
}

/// The stored asset an asset record names: its identifiers tried strongest first, the
/// first that names a stored asset of the same kind wins. A local identifier (loopback,
/// link-local, unspecified address, `localhost`) names a stored asset only when the
/// importing source `source_id` (tool and scope) reported that asset before: every machine
/// has one, so it never merges assets across sources.
pub(crate) fn resolve(tx: &Transaction<'_>, asset: &Asset, source_id: i64) -> Result<Option<i64>> {
    let kind = asset.kind.as_str();
    // the order and the locality rule are the model's (`lifecycle::resolve_asset`); the
    // lookups are these
    ctem_model::lifecycle::resolve_asset(asset, |id, same_source_only| -> Result<_> {
        let hit = if same_source_only {
            tx.prepare_cached(
                "SELECT i.asset_id FROM asset_identifiers i
                 JOIN assets a ON a.id = i.asset_id
                 JOIN asset_sources s ON s.asset_id = i.asset_id AND s.source_id = ?4
                 WHERE i.kind = ?1 AND i.value = ?2 AND a.kind = ?3
                 ORDER BY i.asset_id LIMIT 1",
            )?
            .query_row(params![id.kind.as_str(), id.value, kind, source_id], |r| {
                r.get(0)
            })
            .optional()?
        } else {
            tx.prepare_cached(
                "SELECT i.asset_id FROM asset_identifiers i
                 JOIN assets a ON a.id = i.asset_id
                 WHERE i.kind = ?1 AND i.value = ?2 AND a.kind = ?3
                 ORDER BY i.asset_id LIMIT 1",
            )?
            .query_row(params![id.kind.as_str(), id.value, kind], |r| r.get(0))
            .optional()?
        };
        Ok(hit)
    })
}

/// Records that source `source_id` reported asset `id` at `now`.
pub(crate) fn touch_source(tx: &Transaction<'_>, id: i64, source_id: i64, now: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO asset_sources(asset_id, source_id, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(asset_id, source_id) DO UPDATE SET last_seen = excluded.last_seen",
    )?
    .execute(params![id, source_id, now])?;
    Ok(())
}

/// The tools that reported each asset, by asset id (for `source` rules and listings).
pub(crate) fn asset_tools(conn: &rusqlite::Connection) -> Result<Vec<(i64, String)>> {
    let mut st = conn.prepare(
        "SELECT DISTINCT a.asset_id, s.tool FROM asset_sources a JOIN sources s ON s.id = a.source_id
         ORDER BY 1, 2",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use crate::sqlite::SqliteStore;
    use crate::sqlite::migrations::MIGRATIONS;
    use crate::work::WorkStore;
    use crate::{AssetFilter, Store};

    /// A store of migration 21 gets the sources of its assets from their exposures' sources,
    /// no fact sources, and no stored scores (re-scored with the new model when opened).
    #[test]
    fn migration_22_backfills_asset_sources_and_drops_scores() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE schema_migrations (
                    version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )
            .expect("schema_migrations");
            for (v, sql) in MIGRATIONS.iter().filter(|m| m.0 < 22) {
                conn.execute_batch(sql).expect("old migration");
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [v])
                    .expect("version");
            }
            conn.execute_batch(
                r#"INSERT INTO assets(id, kind, name, first_seen, last_seen, criticality)
                       VALUES (1, 'host', 'web-1', 10, 20, 4);
                   INSERT INTO sources(id, tool, scope) VALUES (5, 'nessus', 'dmz');
                   INSERT INTO exposure_details(id, hash, data) VALUES (1, x'00', '{"title":"t"}');
                   INSERT INTO exposures(id, asset_id, fingerprint, kind, title, severity, status,
                       first_seen, last_seen, content_hash, detail_id, instance)
                       VALUES (1, 1, x'01', 'vulnerability', 't', 3, 'open', 10, 20, x'02', 1, '{}');
                   INSERT INTO exposure_sources(source_id, exposure_id, asset_id, active,
                       first_seen, last_seen, last_scan_id) VALUES (5, 1, 1, 1, 10, 20, 7);
                   INSERT INTO exposure_risk(exposure_id, score, priority, ssvc, kev)
                       VALUES (1, 50.0, 2, 0, 0);"#,
            )
            .expect("old rows");
        }
        let store = SqliteStore::open(&path).expect("migrate");
        let rows = store.assets(&AssetFilter::default()).expect("assets");
        assert_eq!(rows[0].sources, ["nessus"]);
        assert!(!rows[0].never_scanned);
        assert!(
            rows[0].fact_sources.is_empty(),
            "a stored fact's source is a scanner"
        );
        assert_eq!(rows[0].asset.criticality, Some(4));
        assert!(
            store.scores_missing().expect("scores"),
            "scores are recomputed"
        );
    }
}
