#!/usr/bin/env bash
# Latency of a watched folder: a report dropped into a `kind = "folder"` source while
# `ctem run` is running, until its import is committed (the recorded run's end).
#
#   bench/watch-folder.sh                 # 5 drops of a real Trivy report, debug build
#   DROPS=10 PROFILE=release bench/watch-folder.sh
#
# Each drop writes `NAME.part` and renames it (what a CI job should do), at a random point of
# the poll interval (1 s, the default). The latency is the end of the source's recorded run
# (`ctem sources --runs --json`) minus the rename time; the target is 2 s. The machine is
# shared: the load is printed beside the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DROPS=${DROPS:-5}
PROFILE=${PROFILE:-debug}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REPORT=$ROOT/crates/ctem-ingest/tests/fixtures/trivy/alpine-310.json
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build --release -q -p ctem)
else
  (cd "$ROOT" && cargo build -q -p ctem)
fi
CTEM=$CARGO_TARGET_DIR/$PROFILE/ctem

cd "$WORK"
mkdir drop
cat > ctem.toml <<TOML
[schedule]
review = "off"
kpi_snapshot = "off"
[[sources]]
name = "ci"
kind = "folder"
path = "drop"
format = "trivy"
TOML
"$CTEM" --db ctem.db run 2> run.log &
PID=$!
sleep 1

worst=0
for i in $(seq 1 "$DROPS"); do
  # a different report each time (the content hash decides what is new)
  sed "s/alpine-310.tar.gz/alpine-310-drop$i.tar.gz/g" "$REPORT" > "drop/r$i.json.part"
  sleep "0.$((RANDOM % 10))"
  t0=$(date +%s.%N)
  mv "drop/r$i.json.part" "drop/r$i.json"
  end=
  for _ in $(seq 1 200); do
    end=$("$CTEM" --db ctem.db sources --runs --json --limit 100 2>/dev/null | python3 -c "
import json, sys
from datetime import datetime
runs = [r for r in json.load(sys.stdin) if r['job'] == 'source:ci' and r['records'] > 0]
if len(runs) >= $i:
    t = max(r['ended_at'] for r in runs)
    print(datetime.fromisoformat(t.replace('Z', '+00:00')).timestamp())
")
    [ -n "$end" ] && break
    sleep 0.05
  done
  [ -n "$end" ] || { echo "drop $i: not imported within 10 s" >&2; cat run.log >&2; exit 1; }
  lat=$(python3 -c "print(f'{$end - $t0:.3f}')")
  echo "drop $i: imported $lat s after the rename"
  worst=$(python3 -c "print(max($worst, $lat))")
done
echo "worst of $DROPS drops: $worst s (target 2 s); load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "import sys; sys.exit(0 if $worst <= 2.0 else 1)"
