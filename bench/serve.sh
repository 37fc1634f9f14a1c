#!/usr/bin/env bash
# ctem serve under load (issue 16), on 127.0.0.1 only, each run bounded by DUR seconds.
#   bench/serve.sh [EXPOSURES] [ASSETS]      # default 1,000,000 exposures over 10,000 assets
#   DUR=10 CONN=50 bench/serve.sh
# With a store of EXPOSURES exposures (a generated Trivy report imported once, kept in
# bench/out), CONN concurrent clients (wrk, 2 threads) measure the p99 latency of:
#   1. the exposures API listing        GET /api/v1/exposures?limit=50
#   2. a filtered listing               GET /api/v1/exposures?severity=critical&kev=false&limit=50
#   3. a deep keyset page               GET /api/v1/exposures?limit=50&cursor=<page 2000>
#   4. the dashboard's exposures page   GET /exposures
# then NDJSON ingest with all SigmaHQ Windows rules: wrk posts 400-event batches of the OTRF
# events for DUR seconds; the sustained rate is events detected / seconds until the queue
# drains, read from /metrics; and overload: events sent (wrk's requests x batch), accepted and
# refused (429) as /metrics counts them, which must add up exactly.
# The machine may be shared: the load is printed; compare runs from one sitting only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VULNS=${1:-1000000}
ASSETS=${2:-10000}
DUR=${DUR:-10}
CONN=${CONN:-50}
PORT=${PORT:-18480}
OUT=${BENCH_DIR:-bench/out}
FIX=${CTEM_SHARED_FIXTURES:-$ROOT/../shared/fixtures}
RULES=$FIX/sigma/rules/windows
EVENTS_GZ=$FIX/events/jsonl/otrf-windows-100k.flat.jsonl.gz
mkdir -p "$OUT"
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
for p in "$RULES" "$EVENTS_GZ"; do
  [ -e "$p" ] || { echo "serve.sh: $p not found" >&2; exit 1; }
done

cargo build --release -q -p ctem --bin ctem --example gen_trivy
BIN=target/release
DB="$OUT/serve-$VULNS.db"
if [ ! -s "$DB" ]; then
  REPORT="$OUT/trivy-$VULNS.json"
  [ -s "$REPORT" ] || "$BIN/examples/gen_trivy" "$VULNS" "$ASSETS" "$REPORT"
  "$BIN/ctem" --db "$DB" import "$REPORT" >/dev/null
fi
TOKEN=$("$BIN/ctem" --db "$DB" tokens create --name "bench-$$" --role admin --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
WORK=$(mktemp -d)
"$BIN/ctem" --db "$DB" serve --listen "127.0.0.1:$PORT" --rules "$RULES" 2>"$WORK/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
BASE="http://127.0.0.1:$PORT"
AUTH="Authorization: Bearer $TOKEN"
echo "load before: $(uptime)"
echo "store: $VULNS exposures; $CONN connections, ${DUR}s a run; CPU: $(grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)"

# the cursor of a deep page: 2000 pages of 50 in
CURSOR=$(curl -fs -H "$AUTH" "$BASE/api/v1/exposures?limit=1000" | python3 -c '
import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
for _ in $(seq 1 99); do
  CURSOR=$(curl -fs -H "$AUTH" "$BASE/api/v1/exposures?limit=1000&cursor=$CURSOR" | python3 -c '
import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
done

p99() { # label url
  local out; out=$(wrk -t2 -c"$CONN" -d"${DUR}s" --latency -H "$AUTH" "$2")
  local p; p=$(echo "$out" | awk '$1 == "99%" {print $2}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local bad; bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf "%-34s p99 %8s  %9s req/s  non-2xx %s\n" "$1" "$p" "$rps" "${bad:-0}"
}
p99 "API listing (first page)" "$BASE/api/v1/exposures?limit=50"
p99 "API filtered (critical)" "$BASE/api/v1/exposures?severity=critical&limit=50"
p99 "API deep page (100,000 in)" "$BASE/api/v1/exposures?limit=50&cursor=$CURSOR"
p99 "dashboard exposures page" "$BASE/exposures"

metric() { curl -fs "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# 400 OTRF events are about 0.9 MB: a request body stays under the server's 2 MiB limit
# (1,000 were 2.3 MB and every post was answered 413)
{ zcat "$EVENTS_GZ" || true; } | head -"${BATCH:-400}" > "$WORK/batch.ndjson" || true
BATCH=$(grep -c . "$WORK/batch.ndjson")
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/x-ndjson"
local f = io.open("$WORK/batch.ndjson", "rb"); wrk.body = f:read("*a"); f:close()
LUA
D0=$(metric ctem_events_detected_total)
T0=$(date +%s.%N)
WRK=$(wrk -t2 -c"$CONN" -d"${DUR}s" -s "$WORK/post.lua" "$BASE/api/v1/events")
while [ "$(metric ctem_events_queued)" != "0" ]; do sleep 0.2; done
T1=$(date +%s.%N)
D1=$(metric ctem_events_detected_total)
REQS=$(echo "$WRK" | awk '/requests in/ {print $1}')
ACC=$(metric ctem_events_accepted_total); REF=$(metric ctem_events_refused_total)
REFQ=$(metric ctem_events_refused_requests_total); BADL=$(metric ctem_events_bad_lines_total)
awk -v d0="$D0" -v d1="$D1" -v t0="$T0" -v t1="$T1" -v reqs="$REQS" -v b="$BATCH" \
    -v acc="$ACC" -v ref="$REF" -v refq="$REFQ" -v badl="$BADL" 'BEGIN {
  printf "ingest (all SigmaHQ windows rules): %d events detected in %.1f s = %.0f events/s\n", d1-d0, t1-t0, (d1-d0)/(t1-t0);
  printf "overload: sent %d requests x %d = %d events; accepted %d, refused %d (%d requests answered 429), bad lines %d\n", reqs, b, reqs*b, acc, ref, refq, badl;
  printf "accounted: accepted + refused = %d of %d sent (%s)\n", acc+ref, reqs*b, (acc+ref == reqs*b) ? "exact" : "MISMATCH";
}'
echo "load after: $(uptime)"
