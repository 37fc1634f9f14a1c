#!/usr/bin/env bash
# Scale-out of Kafka detection workers (not CI): a Tansu broker (Kafka API, in memory) in
# its own process, a 4-partition topic of 1,000,000 syslog events (real RFC 3164 lines of the
# Wazuh ruleset tests, cycled), then 1, 2 and 4 `ctem detect --input kafka://...` worker
# processes in one consumer group with all SigmaHQ Linux rules. Per worker count: throughput
# (events over the time until the last worker is idle), the largest consumer lag a worker
# reported, and whether the union of the workers' alerts equals a single-process run's
# (compared by rule, partition and offset).
#
#   bench/scale-out.sh              # needs `tansu` on PATH (or $TANSU)
#   COUNT=200000 bench/scale-out.sh
#
# Tansu 0.6.0 takes about 20 minutes to build; build it out of the worktree and delete the
# build afterwards:
#   CARGO_TARGET_DIR=/tmp/tansu-build cargo install tansu --version 0.6.0 --features dynostore --locked
#   rm -rf /tmp/tansu-build
# The machine is shared: the load average is printed with the figures; compare worker counts
# within one run only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX=${CTEM_SHARED_FIXTURES:-$ROOT/../shared/fixtures}
RULES=$FIX/sigma/rules/linux
LINES=$ROOT/crates/ctem-stream/tests/fixtures/syslog/wazuh-rfc3164-lines.log
COUNT=${COUNT:-1000000}
PORT=${PORT:-59092}
BROKER=127.0.0.1:$PORT
TANSU=${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

[ -x "$TANSU" ] || { echo "scale-out.sh: tansu not found (see the header for how to build it)" >&2; exit 1; }
[ -d "$RULES" ] || { echo "scale-out.sh: $RULES not found" >&2; exit 1; }

echo "== build (release)" >&2
(cd "$ROOT" && cargo build --release -q -p ctem && cargo build --release -q -p ctem-stream --example kafka_send)
CTEM=$CARGO_TARGET_DIR/release/ctem
SEND=$CARGO_TARGET_DIR/release/examples/kafka_send

echo "== broker" >&2
"$TANSU" broker --listener-url "tcp://$BROKER" --advertised-listener-url "tcp://$BROKER" \
  --storage-engine memory://tansu/ > "$WORK/broker.log" 2>&1 &
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
"$TANSU" topic create events --partitions 4 --broker "tcp://$BROKER" >&2
echo "== producing $COUNT events" >&2
"$SEND" "$BROKER" events 4 "$LINES" "$COUNT"

# runs N workers in group $2 until each is idle for 5 s; prints "seconds alerts-file"
run_workers() {
  local n=$1 group=$2 start end pids=()
  start=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    "$CTEM" --db "$WORK/none.db" detect --rules "$RULES" --input "kafka://$BROKER/events" \
      --group "$group" --exit-idle 5 --json --summary > "$WORK/$group.$i.out" 2> "$WORK/$group.$i.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  end=$(date +%s.%N)
  # the idle wait is not work
  python3 - "$WORK" "$group" "$n" "$start" "$end" <<'PY'
import json, sys, glob
work, group, n, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
keys, processed, lag = set(), 0, 0
for i in range(1, n + 1):
    lines = open(f"{work}/{group}.{i}.out").read().splitlines()
    summary = json.loads(lines[-1])
    processed += summary["processed"]
    lag = max(lag, summary.get("lag") or 0)
    for l in lines[:-1]:
        a = json.loads(l)
        keys.add((a["rule_id"], a["source"], a["record"]))
with open(f"{work}/{group}.keys", "w") as f:
    for k in sorted(keys):
        f.write(json.dumps(k) + "\n")
secs = end - start - 5
print(f"{n} workers: {processed} events processed in {secs:.1f} s = {processed / secs:,.0f} events/s; "
      f"{len(keys)} distinct alerts; largest lag reported at exit {lag}")
PY
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1 2 4; do
  run_workers "$n" "bench-$n"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
for n in 2 4; do
  if cmp -s "$WORK/bench-1.keys" "$WORK/bench-$n.keys"; then
    echo "union of $n workers' alerts = single-process run: ok"
  else
    echo "union of $n workers' alerts differs from the single-process run: MISMATCH"
  fi
done
