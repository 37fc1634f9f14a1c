#!/usr/bin/env bash
# Detection throughput of ctem-detect against rsigma, the same work on both sides, and the
# EVTX path against the JSON-lines path on the same events; all in one run, printed as ratios.
#
#   bench/detect.sh            # 100k OTRF events, 5 alternating runs a side
#   RUNS=9 bench/detect.sh     # more runs
#   REPEAT=5 bench/detect.sh   # EVTX runs repeat the corpus files this many times (3)
#
# The comparison (ctem vs rsigma): both sides are whole processes over the same JSON-lines
# file, writing every alert as one JSON line to a file: rsigma `engine eval --output-format
# ndjson`, ctem `detect_bench --mode file` (crates/ctem-detect/examples/detect_bench.rs: what
# `ctem detect --json FILE` does, the file read and matched as it streams, without the CLI's
# store and progress). Each side's own start-up (the same command over a one-event file:
# process start and rule load) is subtracted from its time. rsigma runs at its fastest
# setting (`--bloom-prefilter`) and at its default. The best of RUNS alternating runs of each
# is compared (the machine is shared: a slow run is interference, on either side); wall and
# CPU (user + system) seconds are both printed, with the load average.
#
# Agreement: the hits of each rule on both sides are compared. Every rule whose count differs
# must be listed with its reason in bench/detect-differences.tsv; an unlisted difference fails
# the script (exit 1), after everything is printed.
#
# Inputs: all SigmaHQ Windows rules and the OTRF flat events from ../shared/fixtures (or
# $CTEM_SHARED_FIXTURES); EVTX: every .evtx file under its events/ folder. rsigma 0.23.0 is
# installed with cargo if missing (about 12 minutes; see ../shared/PLATFORM.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX=${CTEM_SHARED_FIXTURES:-$ROOT/../shared/fixtures}
RULES=$FIX/sigma/rules/windows
EVENTS_GZ=$FIX/events/jsonl/otrf-windows-100k.flat.jsonl.gz
EVTX_DIR=$FIX/events
KNOWN=$ROOT/bench/detect-differences.tsv
RUNS=${RUNS:-5}
REPEAT=${REPEAT:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for p in "$RULES" "$EVENTS_GZ" "$EVTX_DIR"; do
  [ -e "$p" ] || { echo "detect.sh: $p not found" >&2; exit 1; }
done

echo "== build" >&2
(cd "$ROOT" && cargo build --release -q -p ctem-detect --example detect_bench --example evtx_bench)
BENCH=$CARGO_TARGET_DIR/release/examples/detect_bench
EVTX_BENCH=$CARGO_TARGET_DIR/release/examples/evtx_bench

RSIGMA=${RSIGMA:-$(command -v rsigma || echo "$HOME/.cargo/bin/rsigma")}
if [ ! -x "$RSIGMA" ]; then
  echo "== installing rsigma 0.23.0 (about 12 minutes)" >&2
  CARGO_TARGET_DIR=$WORK/rsigma-build cargo install rsigma --version 0.23.0 --locked \
    --no-default-features --features evtx >&2
  rm -rf "$WORK/rsigma-build"
  RSIGMA=$HOME/.cargo/bin/rsigma
fi

gzip -dc "$EVENTS_GZ" > "$WORK/events.jsonl"
head -n 1 "$WORK/events.jsonl" > "$WORK/one.jsonl"
N=$(wc -l < "$WORK/events.jsonl")
echo "== load before: $(uptime)" >&2

# timed() OUT_TIME CMD...: wall, user and system seconds of CMD into OUT_TIME
timed() { local o=$1; shift; /usr/bin/time -f '%e %U %S' -o "$o" "$@"; }
ct() { # ctem, whole process: $1 events, $2 alerts out, $3 stats out
  timed "$WORK/t" "$BENCH" --rules "$RULES" --events "$1" --mode file --out "$2" --threads 1 > "$3"
  cat "$WORK/t"
}
rs() { # rsigma: $1 events, $2 alerts out, rest: extra flags
  local ev=$1 out=$2; shift 2
  timed "$WORK/t" "$RSIGMA" engine eval -r "$RULES" -p sysmon -e "@$ev" --output-format ndjson "$@" \
    > "$out" 2> "$WORK/rs_err" || { echo "rsigma failed:" >&2; tail -5 "$WORK/rs_err" >&2; exit 1; }
  cat "$WORK/t"
}

echo "== ctem and rsigma, whole processes, $N events, $RUNS alternating runs each" >&2
CT_ONE="" CT_ALL="" RS_ONE="" RS_ALL="" RSD_ONE="" RSD_ALL=""
for r in $(seq "$RUNS"); do
  CT_ONE="$CT_ONE$(ct "$WORK/one.jsonl" /dev/null "$WORK/ct_one.json");"
  CT_ALL="$CT_ALL$(ct "$WORK/events.jsonl" "$WORK/ct_all.ndjson" "$WORK/ct_all_$r.json");"
  RS_ONE="$RS_ONE$(rs "$WORK/one.jsonl" /dev/null --bloom-prefilter);"
  RS_ALL="$RS_ALL$(rs "$WORK/events.jsonl" "$WORK/rs_all.ndjson" --bloom-prefilter);"
  RSD_ONE="$RSD_ONE$(rs "$WORK/one.jsonl" /dev/null);"
  RSD_ALL="$RSD_ALL$(rs "$WORK/events.jsonl" "$WORK/rs_default.ndjson");"
done

echo "== ctem engine only (events in memory, no output), 1 thread" >&2
"$BENCH" --rules "$RULES" --events "$WORK/events.jsonl" --threads 1 > "$WORK/engine.json"

echo "== start-up: rule load without the cache, writing it, reading it" >&2
for kind in none written hit; do
  extra=()
  [ "$kind" = none ] || extra=(--cache "$WORK/cache")
  timed "$WORK/start_$kind.time" "$BENCH" --rules "$RULES" --events "$WORK/one.jsonl" --mode file \
    "${extra[@]}" > "$WORK/start_$kind.json"
done

echo "== EVTX: the corpus files as EVTX and as flat JSON lines, then 1 and 2 threads" >&2
# the scaling needs files of many chunks: the EVTX files of 1 MiB or more
find "$EVTX_DIR" -iname '*.evtx' -size +1M | sort > "$WORK/big.txt"
big=()
while IFS= read -r f; do big+=(--evtx "$f"); done < "$WORK/big.txt"
"$EVTX_BENCH" --rules "$RULES" --evtx "$EVTX_DIR" --mode lines --repeat "$REPEAT" > "$WORK/evtx_lines.json"
"$EVTX_BENCH" --rules "$RULES" --evtx "$EVTX_DIR" --mode evtx --repeat "$REPEAT" > "$WORK/evtx_fast.json"
"$EVTX_BENCH" --rules "$RULES" --evtx "$EVTX_DIR" --mode value > "$WORK/evtx_value.json"
for t in 1 2; do
  "$EVTX_BENCH" --rules "$RULES" "${big[@]}" --mode evtx --threads "$t" --repeat "$((REPEAT * 3))" \
    > "$WORK/evtx_big_$t.json"
done
echo "== load after: $(uptime)" >&2

python3 - "$WORK" "$N" "$RULES" "$KNOWN" "$CT_ONE" "$CT_ALL" "$RS_ONE" "$RS_ALL" "$RSD_ONE" "$RSD_ALL" <<'EOF'
import collections, json, os, re, sys
work, n, rules_dir, known_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = lambda a: [[float(x) for x in r.split()] for r in a.split(";") if r.strip()]
ct_one, ct_all, rs_one, rs_all, rsd_one, rsd_all = (runs(a) for a in sys.argv[5:11])
ld = lambda f: json.load(open(os.path.join(work, f)))
def rate(all_runs, one_runs):
    """events/s wall and CPU: the best whole run minus the best start-up run"""
    wall = min(r[0] for r in all_runs) - min(r[0] for r in one_runs)
    cpu = min(r[1] + r[2] for r in all_runs) - min(r[1] + r[2] for r in one_runs)
    return n / max(wall, 1e-9), n / max(cpu, 1e-9), wall, cpu
c, r, d = rate(ct_all, ct_one), rate(rs_all, rs_one), rate(rsd_all, rsd_one)
print(f"load average now: {os.getloadavg()}  (2 cores shared; only ratios from this run mean anything)")
print(f"CPU: {'AVX-512' if 'avx512vbmi' in open('/proc/cpuinfo').read() else 'AVX2 (no AVX-512 VBMI)'}")
print()
print("ctem vs rsigma, whole processes over the same file, NDJSON alerts written, start-up subtracted")
print(f"{'':36}{'events/s':>12}{'events/CPU-s':>14}{'seconds':>9}{'start-up':>10}")
def row(name, x, one):
    print(f"{name:36}{x[0]:>12,.0f}{x[1]:>14,.0f}{x[2]:>9.2f}{min(o[0] for o in one):>9.2f}s")
row("ctem (1 thread)", c, ct_one)
row("rsigma --bloom-prefilter", r, rs_one)
row("rsigma (default)", d, rsd_one)
print(f"ratio ctem / rsigma --bloom-prefilter: {c[0] / r[0]:6.2f}x wall, {c[1] / r[1]:6.2f}x CPU")
print(f"ratio ctem / rsigma default:           {c[0] / d[0]:6.2f}x wall, {c[1] / d[1]:6.2f}x CPU")
print("  runs (wall s, whole file / one event):")
for name, a, o in (("ctem", ct_all, ct_one), ("rsigma bloom", rs_all, rs_one), ("rsigma", rsd_all, rsd_one)):
    print(f"    {name:13} " + ", ".join(f"{x[0]:.2f}" for x in a) + "  /  " + ", ".join(f"{x[0]:.2f}" for x in o))
eng = ld("engine.json")
print(f"ctem engine only (in memory, no output): {eng['events_per_sec']:,.0f} events/s, "
      f"{eng['events_per_cpu_sec']:,.0f} events/CPU-s ({eng['alerts']} alerts)")
print()
print("start-up (one-event file, whole process; rule load = load, compile and engine build)")
for kind in ("none", "written", "hit"):
    s = ld(f"start_{kind}.json")
    wall = float(open(os.path.join(work, f"start_{kind}.time")).read().split()[0])
    print(f"  rule cache {kind:8} {s['rules']} rules: process {wall:.3f} s, rule load {s['compile_secs']:.3f} s "
          f"({s['compile_cpu_secs']:.2f} CPU-s), cache: {s['rule_cache']}")
print(f"  rsigma (bloom) start-up: {min(o[0] for o in rs_one):.3f} s")
print()
fl, fe, fv = ld("evtx_lines.json"), ld("evtx_fast.json"), ld("evtx_value.json")
print(f"EVTX corpus ({fe['files']} files, {fe['events'] // max(1, int(os.environ.get('REPEAT', '3')))} events, 1 thread)")
for name, x in (("flat JSON lines (same events)", fl), ("EVTX fast path", fe), ("EVTX Value path (before)", fv)):
    print(f"  {name:30}{x['events_per_sec']:>10,.0f} events/s{x['events_per_cpu_sec']:>10,.0f} events/CPU-s  {x['alerts']} alerts")
print(f"  EVTX / JSON lines: {fe['events_per_sec'] / fl['events_per_sec']:.2f} wall, "
      f"{fe['events_per_cpu_sec'] / fl['events_per_cpu_sec']:.2f} CPU (goal 0.50)")
b1, b2 = ld("evtx_big_1.json"), ld("evtx_big_2.json")
print(f"  EVTX files of 1 MiB or more ({b1['files']} files): 1 thread {b1['events_per_sec']:,.0f}/s, "
      f"2 threads {b2['events_per_sec']:,.0f}/s: {b2['events_per_sec'] / b1['events_per_sec']:.2f}x wall "
      f"(goal 1.7), events per CPU-s {b1['events_per_cpu_sec']:,.0f} -> {b2['events_per_cpu_sec']:,.0f}")
print()

# agreement, rule by rule
def rule_key(o):
    for k in ("rule_id", "id"):
        if isinstance(o.get(k), str): return o[k]
    r = o.get("rule")
    if isinstance(r, dict):
        for k in ("id", "title"):
            if isinstance(r.get(k), str): return r[k]
    for k in ("rule_title", "title"):
        if isinstance(o.get(k), str): return o[k]
    return "?"
def hits(f):
    h = collections.Counter()
    for line in open(os.path.join(work, f), encoding="utf-8", errors="replace"):
        line = line.strip()
        if line.startswith("{"):
            try: h[rule_key(json.loads(line))] += 1
            except ValueError: pass
    return h
title_to_id, id_to_path = {}, {}
for dp, _, fs in os.walk(rules_dir):
    for f in fs:
        if not f.endswith((".yml", ".yaml")): continue
        p = os.path.join(dp, f)
        t = open(p, encoding="utf-8", errors="replace").read()
        mi, mt = re.search(r"^id:\s*(\S+)", t, re.M), re.search(r"^title:\s*(.+)$", t, re.M)
        if mi:
            id_to_path[mi.group(1)] = os.path.relpath(p, rules_dir)
            if mt: title_to_id[mt.group(1).strip().strip("'\"")] = mi.group(1)
norm = lambda h: collections.Counter({title_to_id.get(k, k): v for k, v in h.items()})
ch, rh, rdh = hits("ct_all.ndjson"), norm(hits("rs_all.ndjson")), norm(hits("rs_default.ndjson"))
known = {}
if os.path.exists(known_path):
    for line in open(known_path, encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            rid, _, why = line.rstrip("\n").partition("\t")
            known[rid.strip()] = why.strip()
ids = sorted(set(ch) | set(rh))
diff = [i for i in ids if ch.get(i, 0) != rh.get(i, 0)]
print(f"hits rule by rule: {len(ids)} rules hit by either side, {len(ids) - len(diff)} identical, "
      f"{len(diff)} differ ({sum(ch.values())} ctem alerts, {sum(rh.values())} rsigma)")
if rh != rdh:
    print("  note: rsigma's default and --bloom-prefilter runs disagree on "
          f"{sum(1 for i in set(rh) | set(rdh) if rh.get(i, 0) != rdh.get(i, 0))} rules")
unexplained = []
for i in diff:
    why = known.get(i)
    print(f"  {i}  ctem {ch.get(i, 0):>6}  rsigma {rh.get(i, 0):>6}  {id_to_path.get(i, '')}")
    print(f"      {why if why else 'UNEXPLAINED'}")
    if not why: unexplained.append(i)
if unexplained:
    print(f"FAIL: {len(unexplained)} differences without a reason in bench/detect-differences.tsv")
    sys.exit(1)
print("every difference has its reason")
EOF
