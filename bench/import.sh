#!/usr/bin/env bash
# Import benchmark (issue: foundation). Generates a Trivy report with VULNS vulnerabilities over
# ASSETS assets (default 1,000,000 over 10,000), then in the same run times:
#   1. ctem import of it into a fresh SQLite store (parse + dedup + commit), with peak RSS;
#   2. a plain serde_json::from_slice into serde_json::Value of the same file (the baseline);
#   3. a second import of the same file (everything unchanged).
# Prints findings/s and the ratio import / raw parse. Absolute times on shared machines are
# noisy: compare the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
VULNS=${1:-1000000}
ASSETS=${2:-10000}
OUT=${BENCH_DIR:-bench/out}
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }

cargo build --release -q -p ctem --bin ctem --example gen_trivy --example parse_value
BIN=target/release
REPORT="$OUT/trivy-$VULNS.json"
[ -s "$REPORT" ] || "$BIN/examples/gen_trivy" "$VULNS" "$ASSETS" "$REPORT"
SIZE=$(stat -c %s "$REPORT")
rm -f "$OUT"/bench.db*

run() { # label cmd...: prints "seconds rss_kb"
  local t; t=$( { /usr/bin/time -f "%e %M" "$@" >/dev/null; } 2>&1 | tail -1 ); echo "$t"
}
echo "load before: $(uptime)"
# CTEM_TIMINGS makes ctem print the wall time of each phase on stderr: the import proper
# (parse, dedup, store, commit) and the stages the command runs after it (enrichment,
# re-prioritisation); the checkpoint of the write-ahead log runs beside them
export CTEM_TIMINGS=1
T="$OUT/timings"
# ctem's stderr (the timings) to a file, /usr/bin/time's to the pipe
to() { local f=$1; shift; "$@" 2>"$f"; }
export -f to
read -r IMP_S IMP_KB < <(run bash -c 'to "$@"' _ "$T.1" "$BIN/ctem" --db "$OUT/bench.db" import "$REPORT")
read -r RAW_S RAW_KB < <(run "$BIN/examples/parse_value" "$REPORT")
read -r RE_S RE_KB < <(run bash -c 'to "$@"' _ "$T.2" "$BIN/ctem" --db "$OUT/bench.db" import "$REPORT")
unset CTEM_TIMINGS
phase() { grep "^timing: $2: [0-9.]* s" "$1" | awk '{print $(NF-1)}'; }
STORE_S=$(phase "$T.1" "parse and store"); COMMIT_S=$(phase "$T.1" commit)
ENRICH_S=$(phase "$T.1" enrich); PRIO_S=$(phase "$T.1" prioritize)

awk -v n="$VULNS" -v size="$SIZE" -v i="$IMP_S" -v ikb="$IMP_KB" -v r="$RAW_S" -v rkb="$RAW_KB" \
    -v re="$RE_S" -v rekb="$RE_KB" 'BEGIN {
  printf "report: %d findings, %.0f MB\n", n, size/1e6;
  printf "ctem import (new store):   %7.2f s  %9.0f findings/s  peak RSS %5.0f MiB\n", i, n/i, ikb/1024;
  printf "serde_json -> Value:       %7.2f s  %9.0f findings/s  peak RSS %5.0f MiB\n", r, n/r, rkb/1024;
  printf "ctem re-import (unchanged):%7.2f s  %9.0f findings/s  peak RSS %5.0f MiB\n", re, n/re, rekb/1024;
  printf "ratio import / raw parse:  %7.2fx (target <= 3x)\n", i/r;
}'
awk -v n="$VULNS" -v s="$STORE_S" -v c="$COMMIT_S" -v e="$ENRICH_S" -v p="$PRIO_S" -v i="$IMP_S" 'BEGIN {
  printf "phases of the first import (same run):\n";
  printf "  parse, dedup, store:       %7.2f s\n", s;
  printf "  commit (lifecycle, log):   %7.2f s\n", c;
  printf "  import proper (to commit): %7.2f s  %9.0f findings/s (target >= 200,000)\n", s+c, n/(s+c);
  printf "  then enrichment:           %7.2f s\n", e;
  printf "  then re-prioritisation:    %7.2f s\n", p;
  printf "  whole command:             %7.2f s  %9.0f findings/s (exit includes joining the checkpoint)\n", i, n/i;
}'
echo "load after: $(uptime)"


# Streaming at scale (issue: ingestion breadth): a 1 GiB Grype report and a 500 MiB Nessus
# file, each imported into a fresh store; peak RSS must stay under 512 MiB. Skip with BIG=0.
if [ "${BIG:-1}" != 0 ]; then
  cargo build --release -q -p ctem --example gen_big
  GRYPE="$OUT/grype-1g.json"; NESSUS="$OUT/nessus-500m.nessus"
  [ -s "$GRYPE" ] || "$BIN/examples/gen_big" grype 1024 "$GRYPE" > "$OUT/grype-1g.count"
  [ -s "$NESSUS" ] || "$BIN/examples/gen_big" nessus 500 5000 "$NESSUS" > "$OUT/nessus-500m.count"
  for f in "$GRYPE" "$NESSUS"; do
    rm -f "$OUT"/big.db*
    read -r S KB < <(run "$BIN/ctem" --db "$OUT/big.db" import "$f")
    N=$(cat "${f%.*}.count")
    awk -v f="$(basename "$f")" -v s="$S" -v kb="$KB" -v n="$N" -v size="$(stat -c %s "$f")" 'BEGIN {
      printf "%-20s %6.0f MB  %8d findings  %7.2f s  %6.1f MB/s  %8.0f findings/s  peak RSS %4.0f MiB (target < 512)\n",
        f, size/1e6, n, s, size/1e6/s, n/s, kb/1024 }'
  done
fi
