//! The validation model of a store: its environment (assets, services, open exposures under
//! the `[paths]` settings) and the attack graph built from it. `ctem paths`, `ctem
//! chokepoints`, `ctem scenario` and the server's paths pages load it through [`Model::load`]
//! so they see the same graph.

use std::collections::HashMap;

use ctem_model::ExposureStatus;
use ctem_paths::{AttackGraph, Environment, PathsConfig};
use ctem_store::{AssetFilter, ExposureFilter, Store};

use crate::Result;

/// The environment of the store under the `[paths]` section, and its attack graph.
pub struct Model {
    pub env: Environment,
    pub graph: AttackGraph,
}

impl Model {
    pub fn load(store: &dyn Store, cfg: &PathsConfig) -> Result<Self> {
        let assets: Vec<_> = store
            .assets(&AssetFilter::default())?
            .into_iter()
            .map(|r| r.asset)
            .collect();
        let mut services = HashMap::new();
        for a in &assets {
            if let Some(id) = a.id {
                services.insert(id, store.services(id)?);
            }
        }
        let exposures = store.exposures(&ExposureFilter {
            statuses: vec![ExposureStatus::Open, ExposureStatus::Reopened],
            ..ExposureFilter::default()
        })?;
        let env = Environment::from_model(&assets, &services, &exposures, cfg)?;
        let graph = AttackGraph::build(&env, cfg);
        Ok(Model { env, graph })
    }
}
