//! # ctem-paths: validation
//!
//! (essay below, written with the code)

pub mod build;
pub mod coverage;
pub mod cut;
pub mod env;
pub mod error;
pub mod graph;
pub mod query;
pub mod scenario;
pub mod synth;
pub mod technique;

pub use build::{AttackGraph, Node, Rule};
pub use env::{EnvAsset, EnvExposure, Environment, PathsConfig};
pub use error::{Error, Result};
