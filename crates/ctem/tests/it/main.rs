//! End-to-end tests of the `ctem` binary on real reports and a real SQLite store.

mod cli;
mod common;
mod detect;
mod export;
mod harden;
mod intel;
mod risk;
mod serve;
mod tickets;
