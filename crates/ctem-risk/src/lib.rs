//! Prioritization for ctem (essay to be written).

pub mod cvss;
pub mod error;
pub mod ssvc;

pub use cvss::{Cvss, CvssScore, Severity, Version, score};
pub use error::{Error, Result};
