#!/usr/bin/env bash
# KPIs and the assessment over a store of 1,000,000 exposures and 1,000,000 alerts (10,000
# assets, 30,000 services), in SQLite. Prints the times and their ratio to the targets
# (kpi 1 s, assess 5 s).
#   bench/measure.sh [N] [ASSETS]      (defaults 1000000 10000)
# The store is written by direct inserts (crates/ctem-measure/examples/measure_bench.rs):
# building it through `ctem import` of a gen_trivy report (bench/risk.sh) measures the import,
# not the KPIs, and a million alerts have no generator of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ASSETS=${2:-10000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p ctem-measure --example measure_bench
uptime
"$CARGO_TARGET_DIR/release/examples/measure_bench" "$N" "$ASSETS"
