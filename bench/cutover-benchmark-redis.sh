#!/usr/bin/env bash
# The Redis rounds of bench/cutover-benchmark.sh (run it with --engine redis): N cutovers of a Redis migration while
# redis-benchmark (SET/INCR/LPUSH, CLIENTS connections) and the probe (bench/RedisCutoverProbe.java, one SET every 5 ms)
# write through the sandbox's HAProxy as the application's ACL user; the freeze is CLIENT PAUSE WRITE, the switch
# repoints HAProxy, the lasting freeze takes the user's write commands on the old source.
#
#   bench/cutover-benchmark-redis.sh ROUNDS KEYS CLIENTS BUDGET
set -euo pipefail
ROUNDS=$1 KEYS=$2 CLIENTS=$3 BUDGET=$4

. "$(dirname "$0")/common.sh"
require "apt-get install -y redis-tools" redis-cli redis-benchmark
PW=$(cat "$ROOT/.sandbox/secrets/redis.password")
WORK="$ROOT/target/bench/cutover-redis"
mkdir -p "$WORK"
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
APP=bench_app APP_PW=bench-app-pw DB=9

src() { redis-cli -p 16379 -a "$PW" --no-auth-warning -n $DB "$@"; }
tgt() { redis-cli -p 16380 -a "$PW" --no-auth-warning -n $DB "$@"; }
haproxy() { exec 3<>/dev/tcp/127.0.0.1/16399; echo "$1" >&3; cat <&3; exec 3<&-; }
(exec 3<>/dev/tcp/127.0.0.1/16300) 2>/dev/null || { echo "HAProxy is not running: ./migrator sandbox up --engines redis --proxies" >&2; exit 1; }

PLAN="$WORK/plan.yaml"
echo "$PW" > "$WORK/pw"
cat > "$PLAN" <<PLAN
name: cutbench-redis
source: {engine: redis, host: 127.0.0.1, port: 16379, password: "\${file:$WORK/pw}", databases: [$DB]}
target: {engine: redis, host: 127.0.0.1, port: 16380, password: "\${file:$WORK/pw}"}
control: {listen: "127.0.0.1:19466"}
cutover:
  maxDowntime: $BUDGET
  maxLag: 2s
  applicationUsers: [$APP]
  switch:
    - haproxy: {admin: "127.0.0.1:16399", backend: redis, server: primary}
PLAN

printf '| round | writeFreezeMillis | probe gap ms | probe failed writes | acknowledged lost | redis-benchmark errors | redis-benchmark ops/s |\n' > "$WORK/table.md"
printf '|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
for round in $(seq 1 "$ROUNDS"); do
  log "round $round: fresh database and ACL user, HAProxy on the source"
  haproxy "set server redis/primary addr 127.0.0.1 port 16379" >/dev/null
  "$ROOT/migrator" complete "$PLAN" --yes >/dev/null 2>&1 || true
  for side in src tgt; do
    $side CLIENT UNPAUSE >/dev/null
    $side FLUSHDB >/dev/null
    $side ACL SETUSER $APP reset on ">$APP_PW" '~*' '&*' +@all >/dev/null
  done
  redis-benchmark -p 16379 -a "$PW" --dbnum $DB -n "$KEYS" -r "$KEYS" -t set -q >/dev/null 2>&1

  "$ROOT/migrator" run "$PLAN" > "$WORK/worker-$round.log" 2>&1 &
  WORKER=$!
  "$ROOT/migrator" wait "$PLAN" --for STREAMING --timeout 300s >/dev/null
  "$ROOT/migrator" validate "$PLAN" >/dev/null

  rm -f "$WORK/stop"
  redis-benchmark -h 127.0.0.1 -p 16300 --user $APP -a $APP_PW --dbnum $DB -c "$CLIENTS" -n 20000 -r "$KEYS" \
      -t set,incr,lpush -l --csv > "$WORK/redis-benchmark-$round.log" 2>&1 &
  LOAD=$!
  "$JAVA" "$ROOT/bench/RedisCutoverProbe.java" 127.0.0.1 16300 $APP $APP_PW $DB 127.0.0.1 16380 "$PW" "$WORK/stop" \
      > "$WORK/probe-$round.log" 2>&1 &
  PROBE=$!
  sleep 3
  "$ROOT/migrator" wait "$PLAN" --for "lag<2s" --timeout 120s >/dev/null
  log "round $round: cutover under load"
  "$ROOT/migrator" cutover "$PLAN" -o json > "$WORK/cutover-$round.json" || true
  sleep 2
  touch "$WORK/stop"
  wait $PROBE || true
  kill -INT $LOAD 2>/dev/null || true; sleep 1; kill -KILL $LOAD 2>/dev/null || true; wait $LOAD 2>/dev/null || true
  kill -TERM $WORKER 2>/dev/null || true; wait $WORKER || true

  FREEZE=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["writeFreezeMillis"] if r.get("ok") else "aborted: " + (r.get("error") or {}).get("code", "?"))' "$WORK/cutover-$round.json" 2>/dev/null || echo "no report")
  read -r ACKED ERRS GAP LOST < <(sed -n 's/acked=\([0-9]*\) errors=\([0-9]*\) gap_ms=\([0-9]*\) lost=\([0-9]*\)/\1 \2 \3 \4/p' "$WORK/probe-$round.log")
  # redis-benchmark -l --csv prints "SET","12345.67",... as each 20000-request test finishes and loops: the last rate is kept;
  # at the switch it stops ("Server closed the connection"): like sysbench it does not reconnect
  RB_OPS=$(tr '\r' '\n' < "$WORK/redis-benchmark-$round.log" | awk -F'"' '/requests per second|^"(SET|INCR|LPUSH)"/ { v = $4 } END { printf "%.0f", v }')
  RB_ERR=$(tr '\r' '\n' < "$WORK/redis-benchmark-$round.log" | grep -ci "error" || true)
  printf '| %d | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${ERRS:-?}" "${LOST:-?}" "${ACKED:-?}" \
      "${RB_ERR:-?}" "${RB_OPS:-?}" >> "$WORK/table.md"
  log "round $round: freeze ${FREEZE:-?} ms, probe gap ${GAP:-?} ms, lost ${LOST:-?} of ${ACKED:-?}"
done
haproxy "set server redis/primary addr 127.0.0.1 port 16379" >/dev/null
"$ROOT/migrator" complete "$PLAN" --yes >/dev/null 2>&1 || true
cat "$WORK/table.md"
"$ROOT/bench/cutover-summary.sh" "$WORK/table.md"
