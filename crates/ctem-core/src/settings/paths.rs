//! `[paths]`: the attack-path model's environment (crown jewels, phishing entry points,
//! reachability, shared credentials, asset context; docs/paths.md). The section's type is
//! `ctem_paths::PathsConfig`; building it checks its likelihoods and selectors.

pub use ctem_paths::PathsConfig;

/// Errors are `(key, message)` pairs under `paths`.
pub fn build(config: PathsConfig) -> Result<PathsConfig, Vec<(String, String)>> {
    match config.validate() {
        Ok(()) => Ok(config),
        Err(ctem_paths::Error::Config { field, message }) => {
            Err(vec![(format!("paths.{field}"), message)])
        }
        Err(e) => Err(vec![("paths".into(), e.to_string())]),
    }
}
