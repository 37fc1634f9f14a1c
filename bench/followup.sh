#!/usr/bin/env bash
# The follow-up of a small import into a large store: a 100-finding report on a new asset
# imported into a store of 1,000,000 exposures, end to end, against the whole pass
# (`ctem prioritize`) on the same store. Prints both and their ratio.
#   bench/followup.sh [VULNS] [ASSETS] [SMALL]      (defaults 1000000 10000 100)
set -euo pipefail
cd "$(dirname "$0")/.."
VULNS=${1:-1000000}
ASSETS=${2:-10000}
SMALL=${3:-100}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p ctem --bin ctem --example gen_trivy
BIN=$CARGO_TARGET_DIR/release
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
"$BIN/examples/gen_trivy" "$VULNS" "$ASSETS" "$D/big.json"
"$BIN/examples/gen_trivy" "$SMALL" 1 "$D/small.json"
# the small report's one asset is new to the store
sed -i 's/app-0/app-new/g' "$D/small.json"
t0=$(date +%s.%N)
"$BIN/ctem" --db "$D/ctem.db" import "$D/big.json" --json > /dev/null
t1=$(date +%s.%N)
echo "store: $VULNS exposures on $ASSETS assets, built in $(echo "$t1 - $t0" | bc) s"
uptime
for run in 1 2 3; do
  cp "$D/ctem.db" "$D/run.db"
  t1=$(date +%s.%N)
  CTEM_TIMINGS=1 "$BIN/ctem" --db "$D/run.db" import "$D/small.json" --json > /dev/null 2> "$D/timings"
  t2=$(date +%s.%N)
  "$BIN/ctem" --db "$D/run.db" prioritize --json > "$D/prio.json"
  t3=$(date +%s.%N)
  small=$(echo "$t2 - $t1" | bc)
  whole=$(echo "$t3 - $t2" | bc)
  grep 'follow-up' "$D/timings" | sed 's/^/  /'
  echo "run $run: import of $SMALL findings, end to end: $small s; whole pass (ctem prioritize): $whole s; ratio $(echo "scale=3; $small / $whole" | bc)"
done
