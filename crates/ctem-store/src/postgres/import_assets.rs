//! The asset half of a PostgreSQL import (the counterpart of the asset parts of
//! `sqlite/import.rs` and `sqlite/context.rs`): identity by `ctem_model::lifecycle::resolve_asset`,
//! facts merged by rank, identifiers, services and packages.

use ctem_model::context::{FactSource, FactSources};
use ctem_model::{Asset, AssetKey, Package, Service};
use postgres::types::ToSql;

use super::import::PgImport;
use crate::Result;

/// The format of an inventory import (as `sqlite/context.rs` names it).
const INVENTORY: &str = "inventory";

/// A fact an asset record states: (fact name, column, value).
enum Fact {
    Int(i64),
    Text(String),
}

fn stated(asset: &Asset) -> Vec<(&'static str, &'static str, Fact)> {
    let mut out = Vec::new();
    if let Some(c) = asset.criticality {
        out.push(("criticality", "criticality", Fact::Int(i64::from(c))));
    }
    if let Some(z) = asset.zone.clone().filter(|z| !z.trim().is_empty()) {
        out.push(("zone", "zone", Fact::Text(z)));
    }
    if let Some(i) = asset.internet_facing {
        out.push((
            "internet_facing",
            "internet_facing",
            Fact::Int(i64::from(i)),
        ));
    }
    if let Some(t) = asset.owner_team.clone().filter(|t| !t.trim().is_empty()) {
        out.push(("team", "owner_team", Fact::Text(t)));
    }
    if let Some(e) = asset.environment.clone().filter(|e| !e.trim().is_empty()) {
        out.push(("environment", "environment", Fact::Text(e)));
    }
    out
}

fn new_fact_sources(asset: &Asset, source: FactSource) -> String {
    let map: FactSources = stated(asset)
        .into_iter()
        .map(|(f, _, _)| (f.to_owned(), source))
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

impl PgImport<'_> {
    /// Whether this import is an inventory (its facts outrank scanners').
    fn fact_source(&self) -> FactSource {
        if self.meta.format == INVENTORY {
            FactSource::Inventory
        } else {
            FactSource::Scanner
        }
    }

    /// The stored asset `asset` names (`lifecycle::resolve_asset` decides the order and the
    /// locality rule; these are the lookups).
    fn resolve(&mut self, asset: &Asset, source_id: i64) -> Result<Option<i64>> {
        let kind = asset.kind.as_str();
        let wide = self.st(
            "SELECT i.asset_id FROM asset_identifiers i JOIN assets a ON a.id = i.asset_id
             WHERE i.kind = $1 AND i.value = $2 AND a.kind = $3 ORDER BY i.asset_id LIMIT 1",
        )?;
        let narrow = self.st(
            "SELECT i.asset_id FROM asset_identifiers i JOIN assets a ON a.id = i.asset_id
             JOIN asset_sources s ON s.asset_id = i.asset_id AND s.source_id = $4
             WHERE i.kind = $1 AND i.value = $2 AND a.kind = $3 ORDER BY i.asset_id LIMIT 1",
        )?;
        let db = &mut *self.db;
        ctem_model::lifecycle::resolve_asset(asset, |id, same_source_only| -> Result<_> {
            let row = if same_source_only {
                db.query_opt(&narrow, &[&id.kind.as_str(), &id.value, &kind, &source_id])?
            } else {
                db.query_opt(&wide, &[&id.kind.as_str(), &id.value, &kind])?
            };
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })
    }

    /// Writes the facts `asset` states onto stored asset `id`, by rank: an inventory
    /// overwrites; a scanner fills only facts no inventory stated.
    fn merge_facts(&mut self, id: i64, asset: &Asset, source: FactSource) -> Result<()> {
        let facts = stated(asset);
        if facts.is_empty() {
            return Ok(());
        }
        let text: String = self
            .db
            .query_one("SELECT fact_sources FROM assets WHERE id = $1", &[&id])?
            .get(0);
        let mut sources: FactSources = serde_json::from_str(&text).unwrap_or_default();
        let mut changed = false;
        for (fact, column, value) in facts {
            if source != FactSource::Inventory && sources.get(fact) == Some(&FactSource::Inventory)
            {
                continue;
            }
            let sql = format!("UPDATE assets SET {column} = $2 WHERE id = $1");
            match value {
                Fact::Int(v) => self.db.execute(&sql, &[&id, &v])?,
                Fact::Text(v) => self.db.execute(&sql, &[&id, &v])?,
            };
            sources.insert(fact.to_owned(), source);
            changed = true;
        }
        if changed {
            let json = serde_json::to_string(&sources).unwrap_or_else(|_| "{}".into());
            self.db.execute(
                "UPDATE assets SET fact_sources = $2 WHERE id = $1",
                &[&id, &json],
            )?;
        }
        Ok(())
    }

    pub(super) fn asset(&mut self, key: AssetKey, asset: Asset) -> Result<()> {
        let source = self.source_id()?;
        let found = self.resolve(&asset, source)?;
        let fact_source = self.fact_source();
        let now = self.now;
        let asset_id = match found {
            Some(id) => {
                let st = self.st(
                    "UPDATE assets SET last_seen = GREATEST(last_seen, $2), os = coalesce(os, $3)
                     WHERE id = $1",
                )?;
                self.db.execute(&st, &[&id, &now, &asset.os])?;
                self.merge_facts(id, &asset, fact_source)?;
                if !self.created_assets.contains(&id) && self.merged_assets.insert(id) {
                    self.summary.assets.merged += 1;
                }
                id
            }
            None => {
                let st = self.st(
                    "INSERT INTO assets(kind, name, tags, owner_team, criticality,
                                        internet_facing, zone, os, first_seen, last_seen,
                                        environment, fact_sources)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) RETURNING id",
                )?;
                let tags = serde_json::to_string(&asset.tags).unwrap_or_else(|_| "[]".into());
                let crit = asset.criticality.map(i64::from);
                let facing = asset.internet_facing.map(i64::from);
                let facts = new_fact_sources(&asset, fact_source);
                let args: [&(dyn ToSql + Sync); 11] = [
                    &asset.kind.as_str(),
                    &asset.name,
                    &tags,
                    &asset.owner_team,
                    &crit,
                    &facing,
                    &asset.zone,
                    &asset.os,
                    &now,
                    &asset.environment,
                    &facts,
                ];
                let id: i64 = self.db.query_one(&st, &args)?.get(0);
                self.created_assets.insert(id);
                self.summary.assets.new += 1;
                id
            }
        };
        let touch = self.st(
            "INSERT INTO asset_sources(asset_id, source_id, first_seen, last_seen)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT(asset_id, source_id) DO UPDATE SET last_seen = excluded.last_seen",
        )?;
        self.db.execute(&touch, &[&asset_id, &source, &now])?;
        let ident = self.st(
            "INSERT INTO asset_identifiers(asset_id, kind, value) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )?;
        for i in &asset.identifiers {
            self.db
                .execute(&ident, &[&asset_id, &i.kind.as_str(), &i.value])?;
        }
        if found.is_some() {
            self.merge_tags(asset_id, asset.tags)?;
        }
        self.assets.insert(key, asset_id);
        Ok(())
    }

    /// Adds the tags a record states to a stored asset's.
    fn merge_tags(&mut self, asset_id: i64, tags: Vec<String>) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let stored: String = self
            .db
            .query_one("SELECT tags FROM assets WHERE id = $1", &[&asset_id])?
            .get(0);
        let mut old: Vec<String> = serde_json::from_str(&stored).unwrap_or_default();
        let before = old.len();
        for t in tags {
            if !old.contains(&t) {
                old.push(t);
            }
        }
        if old.len() != before {
            let json = serde_json::to_string(&old).unwrap_or_default();
            self.db.execute(
                "UPDATE assets SET tags = $2 WHERE id = $1",
                &[&asset_id, &json],
            )?;
        }
        Ok(())
    }

    pub(super) fn service(&mut self, asset_id: i64, s: Service) -> Result<()> {
        let st = self.st(
            "INSERT INTO services(asset_id, protocol, port, state, name, product, version,
                                  cpe, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT(asset_id, protocol, port) DO UPDATE SET
                state = excluded.state,
                name = coalesce(excluded.name, services.name),
                product = coalesce(excluded.product, services.product),
                version = coalesce(excluded.version, services.version),
                cpe = CASE WHEN excluded.cpe = '[]' THEN services.cpe ELSE excluded.cpe END,
                last_seen = excluded.last_seen",
        )?;
        let cpe = serde_json::to_string(&s.cpe).unwrap_or_else(|_| "[]".into());
        let port = i64::from(s.port);
        let now = self.now;
        let args: [&(dyn ToSql + Sync); 9] = [
            &asset_id,
            &s.protocol,
            &port,
            &s.state,
            &s.name,
            &s.product,
            &s.version,
            &cpe,
            &now,
        ];
        self.db.execute(&st, &args)?;
        self.summary.services += 1;
        Ok(())
    }

    pub(super) fn package(&mut self, asset_id: i64, p: Package) -> Result<()> {
        let st = self.st(
            "INSERT INTO asset_packages(asset_id, name, version, path, ecosystem,
                                        first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT(asset_id, name, version, path) DO UPDATE SET
                ecosystem = coalesce(excluded.ecosystem, asset_packages.ecosystem),
                last_seen = excluded.last_seen",
        )?;
        let version = p.version.unwrap_or_default();
        let path = p.path.unwrap_or_default();
        let now = self.now;
        self.db.execute(
            &st,
            &[&asset_id, &p.name, &version, &path, &p.ecosystem, &now],
        )?;
        self.summary.packages += 1;
        Ok(())
    }
}
