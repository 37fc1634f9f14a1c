#!/usr/bin/env bash
# Attack paths at scale: a synthetic environment of 100,000 hosts (about 1,000,000 graph edges),
# the top-k paths to every crown jewel plus the choke-point ranking, timed in ctem; then
# networkx computes the most likely path to each crown jewel on the same graph, in the same
# run, and the script checks both found the same costs (and counts identical node sequences;
# ties may differ).
#
#   bench/paths.sh                 # 100,000 hosts, 10 crown jewels, k = 3
#   HOSTS=20000 JEWELS=4 bench/paths.sh
#
# Needs python3 with networkx (`pip install networkx`). The machine may be shared: the load is
# printed, and only the ratios of this run mean anything.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOSTS=${HOSTS:-100000}
JEWELS=${JEWELS:-10}
K=${K:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 -c 'import networkx' 2>/dev/null || { echo "paths.sh: pip install networkx" >&2; exit 1; }
echo "== build" >&2
(cd "$ROOT" && cargo build --release -q -p ctem-paths --example paths_bench)
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo "== ctem" >&2
"$CARGO_TARGET_DIR/release/examples/paths_bench" --hosts "$HOSTS" --jewels "$JEWELS" --k "$K" --out "$WORK"
echo "== networkx" >&2
python3 "$ROOT/bench/paths_networkx.py" "$WORK" > "$WORK/nx.json"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
c = json.load(open(f"{w}/ctem.json")); n = json.load(open(f"{w}/nx.json"))
s = c["seconds"]; cs = c["cpu_seconds"]
print(f"graph: {c['hosts']} hosts, {c['nodes']} nodes, {c['edges']} edges, {len(c['jewels'])} crown jewels")
print(f"ctem: build {s['build']:.3f} s; most likely path per crown jewel {s['top1']:.3f} s; "
      f"top-{c['k']} paths + choke points {s['workload']:.3f} s (goal < 2 s)")
print(f"ctem CPU seconds: most likely path per crown jewel {cs['top1']:.2f}; whole workload {cs['workload']:.2f}")
print(f"networkx: most likely path per crown jewel {n['networkx_seconds']:.3f} s ({n['networkx_cpu_seconds']:.2f} CPU s)")
print(f"same costs: {n['same_cost']}/{n['jewels']}, same node sequences: {n['same_path']}/{n['jewels']}")
print(f"ratio, same paths: {n['networkx_seconds'] / s['top1']:.0f}x wall, "
      f"{n['networkx_cpu_seconds'] / max(cs['top1'], 0.01):.0f}x CPU; "
      f"networkx's paths vs ctem's whole workload: {n['networkx_seconds'] / s['workload']:.1f}x wall, "
      f"{n['networkx_cpu_seconds'] / max(cs['workload'], 0.01):.1f}x CPU")
PY
