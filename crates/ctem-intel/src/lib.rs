//! # ctem-intel (essay written at the end)

pub mod attack;
pub mod cve;
pub mod epss;
pub mod error;
pub mod iocs;
pub mod kev;
pub mod share;
pub mod stix;
pub mod util;

pub use error::{Error, Result};
pub use util::{Issue, Parsed};
