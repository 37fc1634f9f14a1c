//! End-to-end tests of the `ctem` binary on real reports and a real SQLite store.

mod cli;
mod common;
mod concurrency;
mod context;
mod detect;
mod exits;
mod export;
mod followup;
mod harden;
mod hostile;
mod inputs;
mod intel;
mod lifecycle;
mod listings;
mod measure;
mod paths;
mod pipes;
mod postgres;
mod risk;
mod serve;
mod settings;
mod sources;
mod stream;
mod tickets;
mod tooling;
