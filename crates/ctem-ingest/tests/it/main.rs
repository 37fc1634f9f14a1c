//! ctem-ingest integration tests: golden files over real reports, detection, safety.

mod empty;
mod golden;
mod safety;
mod vex;
