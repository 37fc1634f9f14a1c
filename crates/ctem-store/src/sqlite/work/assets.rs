//! The assets a prioritisation pass reads: each with its stored facts, where they came from,
//! the tools that reported it and whether its services were inventoried; and whether a KEV
//! catalog is stored. Rules are applied by the domain (`ctem_core::prioritize`).

use std::collections::HashMap;

use ctem_model::context::FactSources;
use ctem_model::{Asset, AssetKind, Identifier, IdentifierKind};
use rusqlite::Connection;

use super::rows::{SCOPE, scoped};
use crate::Result;
use crate::fx::FxSet;
use crate::risk::{AssetReads, AssetRisk, RiskScope};

/// Identifiers of the kinds rules read (repository URLs always, addresses when asked), by
/// asset id.
fn load_identifiers(conn: &Connection, addresses: bool) -> Result<HashMap<i64, Vec<Identifier>>> {
    let mut out: HashMap<i64, Vec<Identifier>> = HashMap::new();
    let sql = if addresses {
        "SELECT asset_id, kind, value FROM asset_identifiers
         WHERE kind IN ('repo_url', 'ipv4', 'ipv6')"
    } else {
        "SELECT asset_id, kind, value FROM asset_identifiers WHERE kind = 'repo_url'"
    };
    let mut st = conn.prepare(sql)?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        let kind = IdentifierKind::parse(r.get_ref(1)?.as_str().unwrap_or(""))
            .unwrap_or(IdentifierKind::Name);
        out.entry(r.get(0)?).or_default().push(Identifier {
            kind,
            value: r.get(2)?,
        });
    }
    Ok(out)
}

/// The assets of the scope's exposures (every asset for the whole pass).
pub(super) fn load_assets(
    conn: &Connection,
    scope: RiskScope,
    reads: AssetReads,
) -> Result<Vec<AssetRisk>> {
    let mut identifiers = load_identifiers(conn, reads.addresses)?;
    let of_scope = format!("IN (SELECT asset_id FROM exposures WHERE id IN ({SCOPE}))");
    let filter = scoped(scope, &format!("WHERE id {of_scope}"));
    let mut tools: HashMap<i64, Vec<String>> = HashMap::new();
    if reads.tools {
        for (id, tool) in super::super::context::asset_tools(conn)? {
            tools.entry(id).or_default().push(tool);
        }
    }
    let services_known: FxSet<i64> = {
        let f = scoped(scope, &format!("WHERE asset_id {of_scope}"));
        let mut st = conn.prepare(&format!("SELECT DISTINCT asset_id FROM services{f}"))?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut st = conn.prepare(&format!(
        "SELECT id, kind, name, tags, owner_team, criticality, internet_facing, zone,
                environment, fact_sources FROM assets{filter}"
    ))?;
    let mut q = st.query([])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let id: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let mut a = Asset::new(
            AssetKind::parse(&kind).unwrap_or(AssetKind::Host),
            r.get::<_, String>(2)?,
        );
        a.tags = serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default();
        a.owner_team = r.get(4)?;
        a.criticality = r.get(5)?;
        a.internet_facing = r.get(6)?;
        a.zone = r.get(7)?;
        a.environment = r.get(8)?;
        let fact_sources: FactSources =
            serde_json::from_str(r.get_ref(9)?.as_str().unwrap_or("{}")).unwrap_or_default();
        a.identifiers = identifiers.remove(&id).unwrap_or_default();
        out.push(AssetRisk {
            id,
            asset: a,
            fact_sources,
            tools: tools.remove(&id).unwrap_or_default(),
            services_known: services_known.contains(&id),
        });
    }
    Ok(out)
}

/// Whether a KEV catalog is stored: then a CVE it does not list is "not in KEV", not
/// "KEV status unknown".
pub(crate) fn kev_catalog_loaded(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'intel_kev')
            AND EXISTS(SELECT 1 FROM intel_kev)",
        [],
        |r| r.get(0),
    )?)
}
