//! End-to-end tests of the `ctem` binary on real reports and a real SQLite store.

mod cli;
mod common;
mod concurrency;
mod detect;
mod export;
mod followup;
mod harden;
mod intel;
mod risk;
mod settings;
mod tickets;
