#!/usr/bin/env bash
# Redis benchmark, on throwaway servers of its own (a source, a native replica, a migrator target):
#   1. full sync of the same data set by a native replica (REPLICAOF) and by migrator (run until the stream starts,
#      JVM start-up included); keys/s of each and the ratio;
#   2. streaming under redis-benchmark writing at full speed against the source: migrator's lag, sampled every second
#      from /api/status, and the time it needs to drain once the load stops.
# Prints a table; docs/benchmarks.md records the results with this command.
#
#   The worker starts through ./migrator, as users start it (with its class-data archive once a first run made one).
#
#   [JAVA_OPTS=...] bench/redis-benchmark.sh [--keys 1000000] [--value 100] [--requests 2000000] [--clients 50] [--pipeline 16]
#                                            [--sync-only] [--tls] [--small]
#   --small: the small-key data set instead of the mixed one: KEYS string keys `SET key:N value-N` (sessions, carts,
#            counters: what most caches hold), written with redis-cli --pipe.
#   --tls: every server also listens for TLS (port + 1000, a CA made here with openssl); the native replica and migrator
#          both sync over it (tls-replication yes; the plan's tls: {ca: ...}, verify-full).
#
# Needs: redis-server and redis-benchmark (apt-get install -y redis-server redis-tools).
set -euo pipefail

KEYS=1000000 VALUE=100 REQUESTS=2000000 CLIENTS=50 PIPELINE=16 SYNC_ONLY=0 TLS=0 SMALL=0
while [ $# -gt 0 ]; do
  case $1 in
    --sync-only) SYNC_ONLY=1; shift ;;
    --tls) TLS=1; shift ;;
    --small) SMALL=1; shift ;;
    --keys) KEYS=$2; shift 2 ;;
    --value) VALUE=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --pipeline) PIPELINE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/common.sh"
WORK="$ROOT/target/bench/redis"
require "apt-get install -y redis-server redis-tools curl" redis-server redis-cli redis-benchmark curl
PW=bench-$(date +%s)
SRC=16395 NATIVE=16396 TGT=16397 LISTEN=127.0.0.1:19475
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
cli() { local port=$1; shift; REDISCLI_AUTH=$PW redis-cli -p "$port" "$@"; }
info() { cli "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k { print $2 }'; }

TLS_ARGS=()
tls_setup() { # a CA and a server certificate for 127.0.0.1, made with openssl
  local d="$WORK/tls"; mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=bench CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -out "$d/server.pem" -days 2 \
    -extfile "$d/ext" 2>/dev/null
}
start() { # port [extra redis-server options]
  local port=$1; shift
  mkdir -p "$WORK/$port"
  if [ "$TLS" = 1 ]; then
    TLS_ARGS=(--tls-port $((port + 1000)) --tls-cert-file "$WORK/tls/server.pem" --tls-key-file "$WORK/tls/server.key"
              --tls-ca-cert-file "$WORK/tls/ca.pem" --tls-auth-clients no --tls-replication yes)
  fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/$port" --daemonize yes --logfile "$WORK/$port/log" \
    --pidfile "$WORK/$port/pid" --save "" --appendonly no --requirepass "$PW" --masterauth "$PW" \
    --repl-backlog-size 256mb --repl-diskless-sync-delay 0 "${TLS_ARGS[@]}" "$@"
  for _ in $(seq 1 100); do cli "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-server on $port did not start; see $WORK/$port/log" >&2; exit 1
}
stop_all() {
  pkill -f "migrator.jar run $WORK/plan.yaml" 2>/dev/null || true
  for port in $SRC $NATIVE $TGT; do cli "$port" shutdown nosave >/dev/null 2>&1 || true; done
}
trap stop_all EXIT
stop_all
rm -rf "$WORK"; mkdir -p "$WORK"
[ "$TLS" = 1 ] && { require "apt-get install -y openssl" openssl; tls_setup; }
start $SRC; start $NATIVE; start $TGT
P=0; PLAN_TLS=""; OVER=""
[ "$TLS" = 1 ] && { P=1000; PLAN_TLS=", tls: {ca: \"$WORK/tls/ca.pem\"}"; OVER=" over TLS"; }

if [ "$SMALL" = 1 ]; then
  log "filling the source: $KEYS small string keys (SET key:N value-N)"
  awk -v n="$KEYS" 'BEGIN { for (i = 1; i <= n; i++) { k = "key:" i; v = "value-" i
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' \
    | REDISCLI_AUTH=$PW redis-cli -p $SRC --pipe >/dev/null
else
  log "filling the source: $KEYS keys of $VALUE bytes (strings, hashes, lists, sets, sorted sets)"
  redis-benchmark -p $SRC -a "$PW" -q -n "$KEYS" -r "$KEYS" -d "$VALUE" -P 64 -c 8 -t set >/dev/null
  redis-benchmark -p $SRC -a "$PW" -q -n $((KEYS / 10)) -r $((KEYS / 10)) -d "$VALUE" -P 64 -c 8 -t hset,lpush,sadd,zadd >/dev/null
fi
TOTAL=$(cli $SRC dbsize)
USED=$(info $SRC memory used_memory_human)
log "source holds $TOTAL keys ($USED)"

log "native: REPLICAOF"
T0=$(now)
cli $NATIVE replicaof 127.0.0.1 $((SRC + P)) >/dev/null
until [ "$(info $NATIVE replication master_link_status)" = up ] && [ "$(info $NATIVE replication master_sync_in_progress)" = 0 ] \
      && [ "$(info $NATIVE persistence loading)" = 0 ]; do sleep 0.05; done
T1=$(now)
NATIVE_S=$(secs "$T0" "$T1")
NATIVE_KEYS=$(cli $NATIVE dbsize)
cli $NATIVE replicaof no one >/dev/null

log "migrator: full sync until the stream starts"
cat > "$WORK/plan.yaml" <<EOF
name: bench-redis
source: {engine: redis, host: 127.0.0.1, port: $((SRC + P)), password: "\${env:BENCH_PW}", databases: [0]$PLAN_TLS}
target: {engine: redis, host: 127.0.0.1, port: $((TGT + P)), password: "\${env:BENCH_PW}"$PLAN_TLS}
control: {listen: "$LISTEN"}
EOF
cpu() { ps -o times= -p "$1" 2>/dev/null | tr -d ' ' || echo 0; }
TGT_PID=$(cat "$WORK/$TGT/pid"); TGT_CPU0=$(cpu "$TGT_PID")
T0=$(now)
BENCH_PW=$PW JAVA_OPTS=${JAVA_OPTS:--Xmx512m} "$ROOT/migrator" run "$WORK/plan.yaml" > "$WORK/worker.log" 2>&1 &
WORKER=$!
phase() { curl -s "http://$LISTEN/api/status" 2>/dev/null | sed -n 's/.*"phase":"\([A-Z_]*\)".*/\1/p'; }
until case "$(phase)" in CATCH_UP|STREAMING) true ;; *) false ;; esac; do
  kill -0 $WORKER 2>/dev/null || { echo "the worker died; see $WORK/worker.log" >&2; exit 1; }
  sleep 0.05
done
T1=$(now)
MIGRATOR_S=$(secs "$T0" "$T1")
TGT_CPU=$(( $(cpu "$TGT_PID") - TGT_CPU0 )); JVM_CPU=$(cpu $WORKER)
MIGRATOR_KEYS=$(( $(cli $TGT dbsize) - $(cli $TGT --scan --pattern '__migrator__:*' | wc -l) ))
HEAP=$(jcmd $WORKER GC.heap_info 2>/dev/null | awk '/used/ { for (i = 1; i <= NF; i++) if ($i == "used") { print $(i + 1); exit } }' || true)
log "independent key-by-key comparison (bench/redis-parity.py: DUMP bytes or value by type, and PTTL)"
if python3 "$ROOT/bench/redis-parity.py" "$PW" $SRC $TGT 0 > "$WORK/parity.txt" 2>&1; then PARITY=equal; else PARITY="DIFFERENT (see $WORK/parity.txt)"; fi
tail -1 "$WORK/parity.txt" >&2
row() {
  printf '\n| Redis 7.0, %s keys (%s), 2 cores | seconds | keys/s | vs native |\n|---|---|---|---|\n' "$TOTAL" "$USED"
  printf '| native replica: REPLICAOF full sync%s (%s keys) | %s | %s | 1.00 |\n' "$OVER" "$NATIVE_KEYS" "$NATIVE_S" "$(rate "$NATIVE_KEYS" "$NATIVE_S")"
  printf '| migrator: full sync%s, SET/MSET and RESTORE on the target, start-up included (%s keys) | %s | %s | %s |\n' "$OVER" "$MIGRATOR_KEYS" "$MIGRATOR_S" \
    "$(rate "$MIGRATOR_KEYS" "$MIGRATOR_S")" "$(ratio "$NATIVE_S" "$MIGRATOR_S")"
  printf '| … CPU seconds used meanwhile: migrator JVM %s, target redis-server %s | | | |\n' "$JVM_CPU" "$TGT_CPU"
  printf '| … worker heap used after the full sync %s; key-by-key comparison: %s | | | |\n' "${HEAP:-?}" "$PARITY"
}
if [ "$SYNC_ONLY" = 1 ]; then
  row
  grep -E "phase" "$WORK/worker.log" | cut -c1-120 >&2
  exit 0
fi

log "streaming: redis-benchmark at full speed ($REQUESTS requests, $CLIENTS clients, pipeline $PIPELINE)"
lag() { curl -s "http://$LISTEN/api/status" | sed -n 's/.*"lag":{"seconds":\([0-9.enull-]*\).*/\1/p'; }
: > "$WORK/lag.txt"
( while kill -0 $WORKER 2>/dev/null; do echo "$(lag)" >> "$WORK/lag.txt"; sleep 1; done ) &
SAMPLER=$!
T0=$(now)
redis-benchmark -p $SRC -a "$PW" -q -n "$REQUESTS" -r 100000 -d "$VALUE" -c "$CLIENTS" -P "$PIPELINE" -t set,incr,lpush,hset \
  > "$WORK/redis-benchmark.txt" 2>&1
T1=$(now)
LOAD_S=$(secs "$T0" "$T1")
GOAL=$(info $SRC replication master_repl_offset)
applied() { curl -s "http://$LISTEN/api/status" | sed -n 's/.*"position":"[0-9a-f]*:\([0-9]*\)".*/\1/p'; }
until [ "$(applied)" -ge "$GOAL" ] 2>/dev/null; do sleep 0.05; done
T2=$(now)
DRAIN_S=$(secs "$T1" "$T2")
kill $SAMPLER 2>/dev/null || true
MAX_LAG=$(grep -v null "$WORK/lag.txt" | sort -g | tail -1)
P95_LAG=$(grep -v null "$WORK/lag.txt" | sort -g | awk '{ a[NR] = $1 } END { i = int(NR * 0.95); if (i < 1) i = 1; print a[i] }')
OPS=$(awk '/requests per second/ { gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { s += $i; break } } END { printf "%.0f", s / 4 }' \
  "$WORK/redis-benchmark.txt")
SAME=$( [ "$(cli $SRC dbsize)" = "$(( $(cli $TGT dbsize) - $(cli $TGT --scan --pattern '__migrator__:*' | wc -l) ))" ] && echo yes || echo no)
kill -TERM $WORKER; wait $WORKER || true

row
printf '\n| streaming under redis-benchmark (set, incr, lpush, hset; %s clients, pipeline %s) | value |\n|---|---|\n' "$CLIENTS" "$PIPELINE"
printf '| load: %s requests in | %s s (about %s ops/s per test) |\n' "$REQUESTS" "$LOAD_S" "$OPS"
printf '| migrator lag, p95 / max of 1 s samples | %s s / %s s |\n' "$P95_LAG" "$MAX_LAG"
printf '| drain after the load stopped | %s s |\n' "$DRAIN_S"
printf '| key count equal afterwards | %s |\n' "$SAME"
printf '| worker heap used after the full sync | %s |\n' "${HEAP:-?}"
