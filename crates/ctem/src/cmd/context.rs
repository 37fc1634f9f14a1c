//! Asset context on the command line: each asset's effective facts with their sources
//! (`ctem assets --json`), the context `ctem explain` scores with, and how to supply the
//! facts the model is missing.

use anyhow::{Result, anyhow};
use ctem_model::context::{AssetContext, ContextRule, ContextRules};
use ctem_store::{AssetFilter, AssetRow, Store};

/// The context and ownership rules in their one order.
pub fn rules(store: &dyn Store, context: &[ContextRule]) -> Result<ContextRules> {
    ContextRules::build(context, &store.rules()?).map_err(|e| anyhow!("ctem.toml: {e}"))
}

/// The effective context of a listed asset.
pub fn of(rules: &ContextRules, row: &AssetRow) -> AssetContext {
    rules.resolve(&row.asset, &row.fact_sources, &row.sources)
}

/// The effective context of asset `id`, if stored.
pub fn of_asset(store: &dyn Store, rules: &ContextRules, id: i64) -> Result<Option<AssetContext>> {
    let rows = store.assets(&AssetFilter {
        id: Some(id),
        ..AssetFilter::default()
    })?;
    Ok(rows.first().map(|r| of(rules, r)))
}

/// An asset row as `ctem assets --json` prints it: the stored asset and counts, plus
/// `facts`, each with its value and source (`inventory`, `rule`, `scanner`, `default`).
pub fn row_json(rules: &ContextRules, row: &AssetRow) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(row)?;
    v["facts"] = serde_json::to_value(of(rules, row))?;
    Ok(v)
}

/// How to supply a fact the model did not know, by factor name (`ctem_risk::RiskScore::missing`,
/// plus `service_reachable` for a port-bound finding without a service inventory).
pub fn how_to_supply(fact: &str) -> &'static str {
    match fact {
        "kev" => {
            "import the CISA KEV catalog: ctem intel import known_exploited_vulnerabilities.json"
        }
        "epss" => "import EPSS scores: ctem intel import epss_scores-current.csv",
        "severity" => {
            "the scanner gave no severity or CVSS: import a CVE record (ctem intel import --kind cve)"
        }
        "exposure" => {
            "set internet_facing or zone in an inventory import (ctem import --format inventory), \
             a [[context.rules]] rule in ctem.toml, or import a port scan taken from outside \
             (ctem import --vantage external)"
        }
        "asset_criticality" => {
            "set criticality (1-5) in an inventory import (ctem import --format inventory) or a \
             [[context.rules]] rule in ctem.toml"
        }
        "service_reachable" => {
            "import a port scan of the asset (nmap, masscan, naabu) so its open services are known"
        }
        _ => "",
    }
}
