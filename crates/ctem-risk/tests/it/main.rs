//! Integration tests of ctem-risk, one binary.

mod cvss_api;
mod cvss_mutations;
mod cvss_vectors;
mod model;
mod remediation;
mod sla;
mod ssvc;
