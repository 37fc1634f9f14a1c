//! ctem-ingest integration tests: golden files over real reports, detection, safety.

mod golden;
mod safety;
