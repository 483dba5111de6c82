#!/usr/bin/env bash
# The Redis rounds of bench/cutover-benchmark.sh (run it with --engine redis): N cutovers of a Redis migration while
# redis-benchmark (SET/INCR/LPUSH, CLIENTS connections) and the probe (bench/RedisCutoverProbe.java, one SET every 5 ms)
# write through the sandbox's HAProxy as the application's ACL user; the freeze is CLIENT PAUSE WRITE, the switch
# repoints HAProxy, the lasting freeze takes the user's write commands on the old source. With ROLLBACK=1 each round is a
# round trip: the cutover, 3 s of load on the new server while reverse replication carries it back, `migrator rollback`
# under the same load; the probe's acknowledged keys are then looked for on the old source.
#
#   bench/cutover-benchmark-redis.sh ROUNDS KEYS CLIENTS BUDGET [ROLLBACK]
set -euo pipefail
ROUNDS=$1 KEYS=$2 CLIENTS=$3 BUDGET=$4 ROLLBACK=${5:-}

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

if [ -n "$ROLLBACK" ]; then
  printf '| round | cutover writeFreezeMillis | cutover probe gap ms | rollback writeFreezeMillis | rollback probe gap ms | probe failed writes | acknowledged lost (old source) | redis-benchmark errors | redis-benchmark ops/s |\n' > "$WORK/table.md"
  printf '|---|---|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
else
  printf '| round | writeFreezeMillis | probe gap ms | probe failed writes | acknowledged lost | redis-benchmark errors | redis-benchmark ops/s |\n' > "$WORK/table.md"
  printf '|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
fi
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

  rm -f "$WORK/stop" "$WORK/mark"
  CHECK_PORT=16380; [ -n "$ROLLBACK" ] && CHECK_PORT=16379 # a round trip ends on the old source: every acknowledged write must be there
  # redis-benchmark does not reconnect once a switch shut its connections: started again until the round ends, so the
  # load goes on on the new server and through the rollback (each restart logs the error that ended the run before)
  : > "$WORK/redis-benchmark-$round.log"
  ( while [ ! -f "$WORK/stop" ]; do
      redis-benchmark -h 127.0.0.1 -p 16300 --user $APP -a $APP_PW --dbnum $DB -c "$CLIENTS" -n 20000 -r "$KEYS" \
          -t set,incr,lpush -l --csv >> "$WORK/redis-benchmark-$round.log" 2>&1
      sleep 0.2
    done ) &
  LOAD=$!
  "$JAVA" "$ROOT/bench/RedisCutoverProbe.java" 127.0.0.1 16300 $APP $APP_PW $DB 127.0.0.1 $CHECK_PORT "$PW" "$WORK/stop" "$WORK/mark" \
      > "$WORK/probe-$round.log" 2>&1 &
  PROBE=$!
  sleep 3
  "$ROOT/migrator" wait "$PLAN" --for "lag<2s" --timeout 120s >/dev/null
  log "round $round: cutover under load"
  "$ROOT/migrator" cutover "$PLAN" -o json > "$WORK/cutover-$round.json" || true
  [ -n "$ROLLBACK" ] && rollback_round "$PLAN" "$WORK" "$round"
  sleep 2
  touch "$WORK/stop"
  wait $PROBE || true
  pkill -INT -f "redis-benchmark -h 127.0.0.1 -p 16300" 2>/dev/null || true; sleep 1
  pkill -KILL -f "redis-benchmark -h 127.0.0.1 -p 16300" 2>/dev/null || true; wait $LOAD 2>/dev/null || true
  kill -TERM $WORKER 2>/dev/null || true; wait $WORKER || true

  FREEZE=$(freeze_millis "$WORK/cutover-$round.json")
  read -r ACKED ERRS GAP LOST MARK_GAP < <(sed -n 's/acked=\([0-9]*\) errors=\([0-9]*\) gap_ms=\([0-9]*\) lost=\([0-9]*\) mark_gap_ms=\([0-9]*\)/\1 \2 \3 \4 \5/p' "$WORK/probe-$round.log")
  # redis-benchmark -l --csv prints "SET","12345.67",... as each 20000-request test finishes and loops: the last rate is kept;
  # at the switch it stops ("Server closed the connection"): like sysbench it does not reconnect
  RB_OPS=$(tr '\r' '\n' < "$WORK/redis-benchmark-$round.log" | awk -F'"' '/requests per second|^"(SET|INCR|LPUSH)"/ { v = $4 } END { printf "%.0f", v }')
  RB_ERR=$(tr '\r' '\n' < "$WORK/redis-benchmark-$round.log" | grep -ci "error" || true)
  if [ -n "$ROLLBACK" ]; then
    BACK=$(freeze_millis "$WORK/rollback-$round.json")
    printf '| %d | %s | %s | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${BACK:-?}" "${MARK_GAP:-?}" "${ERRS:-?}" \
        "${LOST:-?}" "${ACKED:-?}" "${RB_ERR:-?}" "${RB_OPS:-?}" >> "$WORK/table.md"
  else
    printf '| %d | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${ERRS:-?}" "${LOST:-?}" "${ACKED:-?}" \
        "${RB_ERR:-?}" "${RB_OPS:-?}" >> "$WORK/table.md"
  fi
  log "round $round: freeze ${FREEZE:-?} ms, probe gap ${GAP:-?} ms, lost ${LOST:-?} of ${ACKED:-?}"
done
haproxy "set server redis/primary addr 127.0.0.1 port 16379" >/dev/null
"$ROOT/migrator" complete "$PLAN" --yes >/dev/null 2>&1 || true
cat "$WORK/table.md"
"$ROOT/bench/cutover-summary.sh" "$WORK/table.md" ${ROLLBACK:+--rollback}
