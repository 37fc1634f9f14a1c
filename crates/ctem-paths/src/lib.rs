//! # ctem-paths: validation
//!
//! The `validate` stage of ctem: which paths lead from the internet, or from a phished user,
//! to the crown jewels; which few fixes cut most of them; whether each step of a realistic
//! attack would be detected, and by whom. docs/paths.md is the user's reference (settings,
//! the rules as preconditions and postconditions, the queries).
//!
//! ## The pieces
//! - [`env`]: the environment model. Assets with their context (zone, criticality,
//!   internet-facing, tags, owner) as the store has it, overridden by `[[paths.assets]]`;
//!   exposures with a likelihood from KEV, EPSS and CVSS exploitability; the declared
//!   reachability of `[paths]` (zone to zone with ports, phishing entries, credential groups).
//! - [`build`]: the attack graph, one function per rule. Nodes are attacker states (a
//!   privilege on an asset, a network position, an exposure being exploited, a dumped
//!   credential); edges weigh `-ln(likelihood)`, so shortest means most likely.
//! - [`graph`]: compact CSR arrays with Dijkstra and Yen's k shortest loopless paths.
//! - [`cut`]: a minimum vertex cut by max-flow (Dinic) on a node-split network.
//! - [`query`]: top paths per crown jewel, blast radius, choke points, the per-exposure
//!   "on a path to a crown jewel" factor for the risk stage.
//! - [`technique`], [`scenario`], [`coverage`]: ATT&CK techniques seen from the environment,
//!   attack scenarios replayed through the detection engine of `ctem-detect`, and proven
//!   coverage as an ATT&CK Navigator layer.
//! - [`synth`]: synthetic environments for tests and the benchmark.
//!
//! ## Design choices
//! - **Own graph code, not petgraph.** The queries need three things petgraph does not give
//!   together: edge ids stable across a reversal (a path found backwards is turned around edge
//!   by edge), generation-stamped scratch arrays so that thousands of spur searches cost what
//!   they explore rather than the size of the graph, and adjacency sorted by a heuristic. Flat
//!   `u32`/`f64` arrays do all three in a few hundred lines and keep a million-edge graph in
//!   about 20 MB.
//! - **Intermediate nodes keep the graph linear.** A zone's network position is one node that
//!   every host of the zone reaches and that reaches every exposure the zone may exploit; an
//!   exposure is one node whatever the number of hosts that reach it. Without them a flat
//!   network of n hosts needs n^2 edges; with them, 100,000 hosts make under a million edges,
//!   and the exposure nodes are exactly what a minimum cut removes.
//! - **Yen backwards, guided.** Paths are enumerated from each crown jewel back to the
//!   attacker on the reversed graph. One forward Dijkstra from the attacker is an exact A*
//!   heuristic for every jewel; a node's edges are sorted by `weight + heuristic` when a search
//!   first expands it (the searches touch a sliver of the graph) and expanded one at a time, so a spur search pops a few dozen edges instead of pushing a
//!   network position's thousands of exploits. Searching backwards starts on the narrow side
//!   (a jewel has a few exploits and logons), forwards would start on the wide one.
//! - **Distinct ways in, not graph paths.** Yen lists loopless paths of the graph; some are
//!   the same attack with a detour (admin first, then the same exploit). A path is kept only
//!   when no more likely kept path has the same entry and a subset of its exposures.
//! - **Min cut by flow, ranking by greedy cover.** The cut is exact (max-flow min-cut on
//!   node-split exposures, Dinic, over the nodes that lie between the attacker and a jewel); the ranking is a greedy weighted set cover over the
//!   enumerated paths, because "which fix first" is about the likely paths, not all of them.
//! - **No link invented.** ATT&CK links neither CVEs nor CWEs to techniques; a technique's
//!   exposures come from the graph rule that uses them, and the output says so.
//! - **Pure.** No store, no files except event and scenario files the caller names; the CLI
//!   loads the environment and prints.

pub mod build;
pub mod coverage;
pub mod cut;
pub mod env;
pub mod error;
pub mod graph;
pub mod query;
pub mod scenario;
pub mod synth;
pub mod technique;

pub use build::{AttackGraph, Node, Rule};
pub use env::{EnvAsset, EnvExposure, Environment, PathsConfig};
pub use error::{Error, Result};
