//! # ctem-intel (essay written at the end)

pub mod attack;
pub mod cve;
pub mod enrich;
pub mod epss;
pub mod error;
pub mod iocs;
pub mod kev;
pub mod kind;
pub mod misp;
pub mod share;
pub mod stix;
pub mod util;

pub use error::{Error, Result};
pub use util::{Issue, Parsed};
