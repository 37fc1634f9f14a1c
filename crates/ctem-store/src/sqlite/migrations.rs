//! Versioned schema migrations. Each entry runs once, in order, inside a transaction; the
//! applied versions are kept in `schema_migrations`. Never edit a released migration: add one.
//!
//! Numbers are reserved per area so work on different stages does not collide:
//! 1-9 foundation (assets, services, scans, exposures, package inventory); 10-19 threat
//! intelligence;
//! 20-29 prioritisation, teams and tickets; 30-39 detection alerts; 40-49 the core (locks,
//! follow-up jobs); 50-59 measurement (incidents, KPI snapshots, goals, reviews); 60-69
//! validation (attack-scenario exercises); 70-79 the server (users, tokens, audit).

pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE assets (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    owner_team      TEXT,
    criticality     INTEGER,
    internet_facing INTEGER,
    zone            TEXT,
    os              TEXT,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL
);
CREATE TABLE asset_identifiers (
    asset_id INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (kind, value, asset_id)
) WITHOUT ROWID;
CREATE INDEX asset_identifiers_asset ON asset_identifiers(asset_id);
CREATE TABLE services (
    asset_id   INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    protocol   TEXT    NOT NULL,
    port       INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    name       TEXT,
    product    TEXT,
    version    TEXT,
    cpe        TEXT    NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (asset_id, protocol, port)
) WITHOUT ROWID;
CREATE TABLE scans (
    id             INTEGER PRIMARY KEY,
    tool           TEXT    NOT NULL,
    format         TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    explicit_scope INTEGER NOT NULL,
    file           TEXT    NOT NULL,
    sha256         TEXT    NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    imported_at    INTEGER NOT NULL,
    summary        TEXT    NOT NULL
);
-- What a finding says that does not depend on where it was found (title, description, ids,
-- CVSS, references): shared by every exposure with the same content, keyed by its hash.
CREATE TABLE exposure_details (
    id   INTEGER PRIMARY KEY,
    hash BLOB    NOT NULL UNIQUE,
    data TEXT    NOT NULL
);
CREATE TABLE exposures (
    id            INTEGER PRIMARY KEY,
    asset_id      INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    fingerprint   BLOB    NOT NULL,
    kind          TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    severity      INTEGER NOT NULL,
    cve           TEXT,
    rule_id       TEXT,
    pkg_name      TEXT,
    pkg_version   TEXT,
    fixed_version TEXT,
    port          INTEGER,
    status        TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    fixed_at      INTEGER,
    content_hash  BLOB    NOT NULL,
    detail_id     INTEGER NOT NULL REFERENCES exposure_details(id),
    instance      TEXT    NOT NULL
);
CREATE UNIQUE INDEX exposures_identity ON exposures(asset_id, fingerprint);
CREATE INDEX exposures_cve ON exposures(cve) WHERE cve IS NOT NULL;
CREATE TABLE exposure_sources (
    exposure_id  INTEGER NOT NULL REFERENCES exposures(id) ON DELETE CASCADE,
    tool         TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    asset_id     INTEGER NOT NULL,
    active       INTEGER NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    last_scan_id INTEGER NOT NULL,
    PRIMARY KEY (exposure_id, tool, scope)
) WITHOUT ROWID;
CREATE INDEX exposure_sources_scope ON exposure_sources(tool, scope, active);
CREATE TABLE exposure_history (
    exposure_id INTEGER NOT NULL REFERENCES exposures(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    scan_id     INTEGER,
    reason      TEXT    NOT NULL
);
CREATE INDEX exposure_history_exposure ON exposure_history(exposure_id);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE asset_packages (
    asset_id   INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    ecosystem  TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (asset_id, name, version, path)
) WITHOUT ROWID;
"#,
    ),
    (
        3,
        // Leaner lifecycle rows (an import of a million findings writes a million of them):
        // the (tool, scope) pair becomes a small `sources` row referenced by id, the source
        // rows are keyed (source, exposure) so the rows of one import are appends and closing
        // a scope is a range scan, and no secondary index is kept (lookups by exposure go
        // through the handful of sources). The CVE index on exposures goes too: the one
        // query that used it (the CVEs in use) reads the new `cve` column of the shared
        // details instead, a few thousand rows instead of an index of a million. And the
        // exposures table loses its foreign-key clauses: the import writes only ids it has
        // just resolved, and checking two parents per row cost a tenth of a bulk import.
        r#"
CREATE TABLE sources (
    id    INTEGER PRIMARY KEY,
    tool  TEXT    NOT NULL,
    scope TEXT    NOT NULL,
    UNIQUE (tool, scope)
);
INSERT INTO sources(tool, scope) SELECT DISTINCT tool, scope FROM exposure_sources ORDER BY 1, 2;
CREATE TABLE exposure_sources_v3 (
    source_id    INTEGER NOT NULL,
    exposure_id  INTEGER NOT NULL,
    asset_id     INTEGER NOT NULL,
    active       INTEGER NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    last_scan_id INTEGER NOT NULL,
    PRIMARY KEY (source_id, exposure_id)
) WITHOUT ROWID;
INSERT INTO exposure_sources_v3
SELECT s.id, x.exposure_id, x.asset_id, x.active, x.first_seen, x.last_seen, x.last_scan_id
FROM exposure_sources x JOIN sources s ON s.tool = x.tool AND s.scope = x.scope
ORDER BY s.id, x.exposure_id;
DROP TABLE exposure_sources;
ALTER TABLE exposure_sources_v3 RENAME TO exposure_sources;
CREATE TABLE exposures_v3 (
    id            INTEGER PRIMARY KEY,
    asset_id      INTEGER NOT NULL,
    fingerprint   BLOB    NOT NULL,
    kind          TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    severity      INTEGER NOT NULL,
    cve           TEXT,
    rule_id       TEXT,
    pkg_name      TEXT,
    pkg_version   TEXT,
    fixed_version TEXT,
    port          INTEGER,
    status        TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    fixed_at      INTEGER,
    content_hash  BLOB    NOT NULL,
    detail_id     INTEGER NOT NULL,
    instance      TEXT    NOT NULL
);
INSERT INTO exposures_v3 SELECT id, asset_id, fingerprint, kind, title, severity, cve, rule_id,
    pkg_name, pkg_version, fixed_version, port, status, first_seen, last_seen, fixed_at,
    content_hash, detail_id, instance FROM exposures ORDER BY id;
DROP TABLE exposures;
ALTER TABLE exposures_v3 RENAME TO exposures;
CREATE UNIQUE INDEX exposures_identity ON exposures(asset_id, fingerprint);
ALTER TABLE exposure_details ADD COLUMN cve TEXT;
UPDATE exposure_details SET cve = json_extract(data, '$.cves[0]');
"#,
    ),
    (
        4,
        // listings walk exposures most severe first: in index order, SQLite streams the rows
        // (no sorter holding a copy of every row) and LIMIT stops early
        "CREATE INDEX IF NOT EXISTS exposures_listing ON exposures(severity DESC, id);",
    ),
    (10, super::intel::MIGRATION_10),
    (20, super::work::MIGRATION_20),
    (21, super::work::MIGRATION_21),
    (22, super::context::MIGRATION_22),
    (40, super::work::followup::MIGRATION_40),
    (41, super::intel::MIGRATION_41),
    (
        30,
        r#"
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    rule_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    level_rank  INTEGER NOT NULL,
    tags        TEXT    NOT NULL,
    event_time  INTEGER,
    detected_at INTEGER NOT NULL,
    source      TEXT,
    record      INTEGER,
    host        TEXT,
    user_name   TEXT,
    process     TEXT,
    event       TEXT    NOT NULL
);
CREATE INDEX alerts_detected ON alerts(detected_at);
CREATE INDEX alerts_rule ON alerts(rule_id);
"#,
    ),
    (
        31,
        r#"
-- an alert is a fact: its rule plus its event's identity (source, record, time); storing
-- the same alert again adds nothing. Rows stored before keep a NULL identity.
ALTER TABLE alerts ADD COLUMN identity TEXT;
CREATE UNIQUE INDEX alerts_identity ON alerts(identity);
"#,
    ),
    (50, super::measure::MIGRATION_50),
    (51, super::measure::MIGRATION_51),
    (60, super::exercise::MIGRATION_60),
    (70, super::auth::MIGRATION_70),
];

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::MIGRATIONS;
    use crate::Store;
    use crate::sqlite::SqliteStore;

    /// A store written by a build that knew migrations 1 and 2 only, with two sources on one
    /// exposure, is brought to the current schema without losing a source or a detail CVE.
    #[test]
    fn migration_3_keeps_sources_and_detail_cves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE schema_migrations (
                    version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )
            .expect("schema_migrations");
            for (v, sql) in MIGRATIONS.iter().filter(|m| m.0 < 3) {
                conn.execute_batch(sql).expect("old migration");
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [v])
                    .expect("version");
            }
            conn.execute_batch(
                r#"INSERT INTO assets(id, kind, name, first_seen, last_seen)
                       VALUES (1, 'host', 'web-1', 10, 20);
                   INSERT INTO exposure_details(id, hash, data)
                       VALUES (1, x'00', '{"title":"t","cves":["CVE-2024-0001","CVE-2024-0002"]}');
                   INSERT INTO exposures(id, asset_id, fingerprint, kind, title, severity, status,
                       first_seen, last_seen, content_hash, detail_id, instance, cve)
                       VALUES (1, 1, x'01', 'vulnerability', 't', 3, 'open', 10, 20, x'02', 1,
                               '{}', 'CVE-2024-0001');
                   INSERT INTO exposure_sources VALUES (1, 'nessus', 'dmz', 1, 1, 10, 20, 7);
                   INSERT INTO exposure_sources VALUES (1, 'nmap', 'default', 1, 0, 10, 15, 3);"#,
            )
            .expect("old rows");
        }
        let store = SqliteStore::open(&path).expect("migrate");
        let sources = store.exposure_sources(1).expect("sources");
        let got: Vec<_> = sources
            .iter()
            .map(|s| (s.tool.as_str(), s.scope.as_str(), s.active, s.last_scan_id))
            .collect();
        assert_eq!(
            got,
            [("nessus", "dmz", true, 7), ("nmap", "default", false, 3)]
        );
        let cve: String = store
            .conn
            .query_row("SELECT cve FROM exposure_details WHERE id = 1", [], |r| {
                r.get(0)
            })
            .expect("detail cve");
        assert_eq!(cve, "CVE-2024-0001");
        let index: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'exposures_cve'",
                [],
                |r| r.get(0),
            )
            .expect("index");
        assert_eq!(index, 0);
    }
}
