//! Integration tests of ctem-paths: graphs with known answers (brute force, cuts by
//! construction), the attack-graph rules, scenarios with real EVTX replay, coverage layers.

mod env;
mod graphs;
mod scenarios;
