#!/usr/bin/env bash
# Runs every cargo-fuzz target (or those whose name starts with PREFIX) for SECONDS each,
# one after the other, and appends one line per target to logs/summary.txt:
#   <target> seconds=<n> execs=<n> result=ok|FAILED
# Ingest targets are seeded with the golden fixtures of their format.
#
# usage: fuzz/run-all.sh [SECONDS=60] [PREFIX]
# env:   FUZZ_TARGET_DIR (default: fuzz/target), FUZZ_JOBS (cargo -j, default 1),
#        FUZZ_DIR (another cargo-fuzz crate with the same targets, e.g. one that depends on
#        ctem-ingest only while a sibling crate does not build; default: this folder)
set -euo pipefail
secs=${1:-60}
prefix=${2:-}
cd "$(dirname "$0")"
here=$(pwd)
fuzz_dir=${FUZZ_DIR:-$here}
target_dir=${FUZZ_TARGET_DIR:-$here/target}
jobs=${FUZZ_JOBS:-1}
mkdir -p logs corpus
targets=$(cargo +nightly fuzz list --fuzz-dir "$fuzz_dir" | grep "^${prefix}" || true)
if [ -z "$targets" ]; then
    echo "no fuzz target matches prefix '${prefix}'" >&2
    exit 2
fi
status=0
for t in $targets; do
    corpus=corpus/$t
    mkdir -p "$corpus"
    case $t in
        ingest_all) seeds=$here/../crates/ctem-ingest/tests/fixtures ;;
        ingest_*) seeds=$here/../crates/ctem-ingest/tests/fixtures/${t#ingest_} ;;
        detect_lines) seeds=$here/seeds/detect_lines ;;
        *) seeds= ;;
    esac
    if [ -n "$seeds" ] && [ -d "$seeds" ]; then
        find "$seeds" -type f ! -name '*.expected.json' ! -name '*.md' -size -256k \
            -exec cp -n {} "$corpus"/ \;
    fi
    echo "== $t (${secs}s)" >&2
    if CARGO_BUILD_JOBS="$jobs" cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" "$t" "$corpus" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 -timeout=10 \
        -print_final_stats=1 >"logs/$t.log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$' || true)
    echo "$t seconds=$secs execs=${execs:-?} result=$result" | tee -a logs/summary.txt
done
exit $status
