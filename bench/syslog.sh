#!/usr/bin/env bash
# Syslog into detection through `ctem detect --input syslog://...` with all SigmaHQ Linux
# rules, fed by crates/ctem-stream/examples/syslog_send.rs (real RFC 3164 lines of the Wazuh
# ruleset tests, cycled).
#
#   bench/syslog.sh                 # 1,000,000 messages over TCP, 300,000 datagrams over UDP
#   COUNT=200000 bench/syslog.sh    # fewer
#   THREADS=2 bench/syslog.sh       # rule evaluation on two threads (the reader has its own)
#   PROFILE=dev COUNT=2000 UDP_COUNT=2000 bench/syslog.sh   # a quick check of the script
#
# TCP: the sender is slowed by backpressure (nothing is dropped), so sent must equal
# received and processed exactly; the rate is processed messages over the listener's busy
# time (first batch to last). UDP at overload (a small queue, the sender as fast as it can):
# every datagram is accounted for, sent = processed + dropped (queue full) + kernel_dropped
# (socket buffer full, from /proc/net/udp) + rejected. The machine is shared: the load
# average is printed with the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX=${CTEM_SHARED_FIXTURES:-$ROOT/../shared/fixtures}
RULES=$FIX/sigma/rules/linux
LINES=$ROOT/crates/ctem-stream/tests/fixtures/syslog/wazuh-rfc3164-lines.log
COUNT=${COUNT:-1000000}
UDP_COUNT=${UDP_COUNT:-300000}
PORT=${PORT:-55514}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

[ -d "$RULES" ] || { echo "syslog.sh: $RULES not found" >&2; exit 1; }

PROFILE=${PROFILE:-release}
echo "== build ($PROFILE)" >&2
(cd "$ROOT" && cargo build --profile "$PROFILE" -q -p ctem && cargo build --profile "$PROFILE" -q -p ctem-stream --example syslog_send)
DIR=$PROFILE; [ "$PROFILE" = dev ] && DIR=debug
CTEM=$CARGO_TARGET_DIR/$DIR/ctem
SEND=$CARGO_TARGET_DIR/$DIR/examples/syslog_send
TIER=$(grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
echo "rules: $(find "$RULES" -name '*.yml' | wc -l) SigmaHQ Linux rules; cpu: $(nproc) cores, ${TIER:-AVX2 (no AVX-512)}"

# starts the listener ($1 = tcp|udp, $2 = queue), waits until it listens
listen() {
  : > "$WORK/err"
  "$CTEM" --db "$WORK/none.db" detect --rules "$RULES" --input "syslog://$1/127.0.0.1:$PORT" \
    --queue "$2" --threads "${THREADS:-1}" --exit-idle 3 --json --summary > "$WORK/out" 2> "$WORK/err" &
  LISTENER=$!
  for _ in $(seq 1 600); do
    grep -q '^listening' "$WORK/err" && return 0
    kill -0 $LISTENER 2>/dev/null || { cat "$WORK/err" >&2; exit 1; }
    sleep 0.1
  done
  echo "syslog.sh: the listener did not start" >&2; exit 1
}

field() { python3 -c "import json,sys; print(json.loads(sys.stdin.readlines()[-1])['$1'])"; }

echo "== TCP: $COUNT messages, newline framing" >&2
listen tcp 65536
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
SENT=$("$SEND" "tcp://127.0.0.1:$PORT" "$LINES" "$COUNT")
wait $LISTENER || true
SUM=$(tail -n 1 "$WORK/out")
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sender:   $SENT"
echo "listener: $SUM"
REC=$(echo "$SUM" | field received); PROC=$(echo "$SUM" | field processed)
DROP=$(echo "$SUM" | field dropped); RATE=$(echo "$SUM" | field events_per_second)
ALERTS=$(echo "$SUM" | field alerts)
STATUS=ok
[ "$REC" = "$COUNT" ] && [ "$PROC" = "$COUNT" ] && [ "$DROP" = 0 ] || STATUS=MISMATCH
echo "TCP: sent $COUNT, received $REC, processed $PROC, dropped $DROP, $ALERTS alerts: $STATUS; $RATE messages/s"

echo "== UDP at overload: $UDP_COUNT datagrams, queue 1024" >&2
listen udp 1024
SENT=$("$SEND" "udp://127.0.0.1:$PORT" "$LINES" "$UDP_COUNT")
wait $LISTENER || true
SUM=$(tail -n 1 "$WORK/out")
echo "sender:   $SENT"
echo "listener: $SUM"
REC=$(echo "$SUM" | field received); PROC=$(echo "$SUM" | field processed)
DROP=$(echo "$SUM" | field dropped); KDROP=$(echo "$SUM" | field kernel_dropped)
REJ=$(echo "$SUM" | field rejected)
STATUS=ok
[ $((PROC + DROP + REJ)) = "$REC" ] && [ $((REC + KDROP)) = "$UDP_COUNT" ] || STATUS=MISMATCH
echo "UDP: sent $UDP_COUNT, received $REC (processed $PROC + dropped $DROP + rejected $REJ), kernel dropped $KDROP; sent - received = $((UDP_COUNT - REC)) = kernel dropped: $STATUS"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
