//! Prioritization for ctem (essay to be written).

pub mod config;
pub mod cvss;
pub mod error;
pub mod model;
pub mod remediation;
pub mod sla;
pub mod ssvc;
pub mod version;

pub use config::{Policy, RiskConfig};
pub use cvss::{Cvss, CvssScore, Severity, Version, score};
pub use error::{Error, Result};
pub use model::{Factor, NetworkZone, Priority, RiskInput, RiskModel, RiskScore};
pub use remediation::{OpenExposure, RemediationGroup, group_remediations};
pub use sla::{SlaConfig, SlaStatus, SlaTarget};
