//! Integration tests of ctem-core (one binary, modules per topic).

mod config_docs;
mod conformance;
mod postgres;
