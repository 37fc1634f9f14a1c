#!/usr/bin/env bash
# PostgreSQL benchmark (issue #12). Starts a throwaway PostgreSQL server (as .ci/run does),
# then in the same run:
#   1. bulk row writes: N detection alerts (default 1,000,000) stored into SQLite and into
#      PostgreSQL by binary COPY and by multi-row INSERT (examples/pg_bulk.rs);
#   2. the import of the 1,000,000-finding bench report (bench/import.sh's gen_trivy) into
#      SQLite, and into PostgreSQL once the PostgreSQL import exists (until then it prints
#      that the import is unavailable there).
# BENCH_IMPORT=0 runs the bulk writes only. Prints rows/s and the PostgreSQL / SQLite ratio. Absolute times on shared machines are
# noisy: compare the ratios of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
VULNS=${2:-1000000}
ASSETS=${3:-10000}
OUT=${BENCH_DIR:-bench/out}
PORT=${BENCH_PG_PORT:-55439}
mkdir -p "$OUT"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  apt-get install -y -q postgresql >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
PGDATA_B=$(mktemp -d)
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDATA_B"; AS=(runuser -u postgres --); fi
"${AS[@]}" "$PG_BIN/initdb" -D "$PGDATA_B" -U postgres -A trust -E UTF8 --no-sync >/dev/null
# durability as a production server keeps it (fsync on), WAL sized for bulk loads
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_B" -l "$PGDATA_B/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDATA_B -c max_wal_size=4GB -c shared_buffers=256MB" \
  start >/dev/null
trap '"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_B" -m immediate stop >/dev/null 2>&1; rm -rf "$PGDATA_B"' EXIT
"${AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres ctem_bench
URL="postgres://postgres@127.0.0.1:$PORT/ctem_bench"

cargo build --release -q -p ctem-store --example pg_bulk
[ "${BENCH_IMPORT:-1}" = 0 ] || cargo build --release -q -p ctem --bin ctem --example gen_trivy
echo "load before: $(uptime)"
echo "== bulk row writes: $N alerts"
target/release/examples/pg_bulk "$N" "$URL" "$OUT" | tee "$OUT/pg_bulk.txt"
awk '/^sqlite/ {s=$(NF-3)} /COPY/ {c=$(NF-3)} /INSERT/ {i=$(NF-3)} END {
  printf "ratio PostgreSQL COPY / SQLite:   %.2fx\n", c/s;
  printf "ratio PostgreSQL INSERT / SQLite: %.2fx\n", i/s;
  printf "COPY vs multi-row INSERT:         %.2fx faster\n", i/c }' "$OUT/pg_bulk.txt"

[ "${BENCH_IMPORT:-1}" = 0 ] && { echo "== import: skipped (BENCH_IMPORT=0)"; exit 0; }
echo "== import of the $VULNS-finding bench report"
REPORT="$OUT/trivy-$VULNS.json"
[ -s "$REPORT" ] || target/release/examples/gen_trivy "$VULNS" "$ASSETS" "$REPORT"
rm -f "$OUT"/pgbench.db*
t0=$(date +%s.%N)
target/release/ctem --db "$OUT/pgbench.db" import "$REPORT" >/dev/null
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$VULNS" 'BEGIN { printf "sqlite import:   %7.2f s %9.0f findings/s\n", b-a, n/(b-a) }'
if target/release/ctem --db "$URL?schema=bench_import" import "$REPORT" >/dev/null 2>"$OUT/pg_import.err"; then
  t2=$(date +%s.%N)
  awk -v a="$t1" -v b="$t2" -v s0="$t0" -v n="$VULNS" 'BEGIN {
    printf "postgres import: %7.2f s %9.0f findings/s (target >= 100,000)\n", b-a, n/(b-a);
    printf "ratio PostgreSQL / SQLite import: %.2fx (target <= 2.5x)\n", (b-a)/(a-s0) }'
else
  echo "postgres import: not measured: $(head -1 "$OUT/pg_import.err")"
fi
rm -f "$OUT"/pgbench.db* "$OUT/pg_import.err"
