//! The assets of the re-prioritisation pass: each with its effective context (stored facts,
//! then context and ownership rules, `ctem_model::context`), its team, and whether its
//! services were inventoried; and whether a KEV catalog is stored.

use std::collections::HashMap;

use ctem_model::context::{ContextRules, FactSources};
use ctem_model::{Asset, AssetKind, Identifier, IdentifierKind};
use ctem_risk::NetworkZone;
use rusqlite::Transaction;

use super::prioritize::{AssetInfo, FxSet, IdIndex, Interner};
use crate::Result;
use crate::work::AssetFacts;

type AssetIndex = IdIndex;

/// Identifiers of the kinds rules read (repository URLs always, addresses when a `cidr`
/// rule exists), by asset id.
fn load_identifiers(
    tx: &Transaction<'_>,
    addresses: bool,
) -> Result<HashMap<i64, Vec<Identifier>>> {
    let mut out: HashMap<i64, Vec<Identifier>> = HashMap::new();
    let sql = if addresses {
        "SELECT asset_id, kind, value FROM asset_identifiers
         WHERE kind IN ('repo_url', 'ipv4', 'ipv6')"
    } else {
        "SELECT asset_id, kind, value FROM asset_identifiers WHERE kind = 'repo_url'"
    };
    let mut st = tx.prepare(sql)?;
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

/// Every asset with its effective context (stored facts, then rules; see
/// `ctem_model::context`) and team; with `scoped`, only the assets of the exposures in
/// `temp.risk_scope` (a follow-up).
pub(super) fn load_assets(
    tx: &Transaction<'_>,
    context: &ContextRules,
    strings: &mut Interner,
    scoped: bool,
) -> Result<(Vec<AssetInfo>, AssetIndex)> {
    let mut identifiers = load_identifiers(tx, context.uses_addresses())?;
    // a follow-up scores only the assets of `temp.risk_scope`'s exposures
    let filter = if scoped {
        format!(
            " WHERE id IN (SELECT asset_id FROM exposures WHERE id IN ({}))",
            super::prioritize::SCOPE_EXPOSURES
        )
    } else {
        String::new()
    };
    let mut tools: HashMap<i64, Vec<String>> = HashMap::new();
    if context.uses_sources() {
        for (id, tool) in super::super::context::asset_tools(tx)? {
            tools.entry(id).or_default().push(tool);
        }
    }
    let services_known: FxSet<i64> = {
        let mut st = tx.prepare(&format!(
            "SELECT DISTINCT asset_id FROM services{}",
            filter.replace(" WHERE id IN", " WHERE asset_id IN")
        ))?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut st = tx.prepare(&format!(
        "SELECT id, kind, name, tags, owner_team, criticality, internet_facing, zone,
                environment, fact_sources FROM assets{filter}"
    ))?;
    let mut q = st.query([])?;
    let mut out = Vec::new();
    let mut index = IdIndex::default();
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
        let sources: FactSources =
            serde_json::from_str(r.get_ref(9)?.as_str().unwrap_or("{}")).unwrap_or_default();
        a.identifiers = identifiers.remove(&id).unwrap_or_default();
        let c = context.resolve(&a, &sources, tools.get(&id).map_or(&[], Vec::as_slice));
        let team = c.team.value;
        index.insert(id, out.len());
        out.push(AssetInfo {
            id,
            facts: AssetFacts {
                criticality: c.criticality.value,
                internet_facing: c.internet_facing.value,
                zone: c.zone.value.as_deref().and_then(NetworkZone::from_name),
            },
            services_known: services_known.contains(&id),
            team: team.as_deref().map(|t| strings.id(t)),
            team_name: team,
        });
    }
    Ok((out, index))
}

/// Whether a KEV catalog is stored: then a CVE it does not list is "not in KEV", not
/// "KEV status unknown".
pub(crate) fn kev_catalog_loaded(conn: &rusqlite::Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'intel_kev')
            AND EXISTS(SELECT 1 FROM intel_kev)",
        [],
        |r| r.get(0),
    )?)
}
