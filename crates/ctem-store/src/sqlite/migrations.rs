//! Versioned schema migrations. Each entry runs once, in order, inside a transaction; the
//! applied versions are kept in `schema_migrations`. Never edit a released migration: add one.
//!
//! Numbers are reserved per area so work on different stages does not collide:
//! 1-9 foundation (assets, services, scans, exposures, package inventory); 10-19 threat
//! intelligence;
//! 20-29 prioritisation, teams and tickets; 30-39 detection alerts.

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
    (10, super::intel::MIGRATION_10),
    (20, super::work::MIGRATION_20),
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
];
