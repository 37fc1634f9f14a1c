//! The rules of every outbound HTTP call live in the core (`ctem_core::outbound`): which
//! URLs are accepted when ctem.toml is loaded, and which addresses a request may connect to.

pub use ctem_core::outbound::*;
