#!/usr/bin/env bash
# Cutover benchmark: N cutovers of a migration under write load through the sandbox's proxy, each with a probe that
# writes every 5 ms through the same proxy and records every acknowledged write (bench/CutoverProbe.java).
#   mariadb:    sysbench oltp_write_only through HAProxy, freeze lock-tables, switch haproxy
#   postgresql: pgbench (tpcb-like) through pgbouncer (transaction pooling), freeze pgbouncer (PAUSE), switch pgbouncer
#   redis:      redis-benchmark through HAProxy as an ACL user, freeze client-pause, switch haproxy, lasting freeze by ACL
# Per round: the write gap the probe saw, its failed writes, acknowledged writes missing on the target, the load tool's
# errors, and the report's writeFreezeMillis. Prints a table; docs/benchmarks.md records the results with this command.
# --rollback (every engine): each round is a round trip: the cutover, 3 s of load on the new server while reverse replication
# carries it back, then `migrator rollback` under the same load; the probe's gap is measured for each, and every
# acknowledged write must be on the old source at the end.
#
#   bench/cutover-benchmark.sh [--engine mariadb|postgresql|redis] [--rounds 10] [--rows 20000] [--threads 4] [--rate 200] [--max-downtime 2s] [--rollback]
#   (redis: --rows is the key space, --threads redis-benchmark's connections; it has no rate limit, --rate is ignored)
#
# Needs: ./migrator sandbox up --engines mariadb|postgresql --proxies; apt-get install -y sysbench mariadb-client
# (mariadb), postgresql-client (postgresql: psql, pgbench) or redis-tools (redis: redis-cli, redis-benchmark).
set -euo pipefail

ENGINE=mariadb ROUNDS=10 ROWS=20000 THREADS=4 RATE=200 BUDGET=2s ROLLBACK=
while [ $# -gt 0 ]; do
  case $1 in
    --rollback) ROLLBACK=1; shift ;;
    --engine) ENGINE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --max-downtime) BUDGET=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case $ENGINE in mariadb|postgresql|redis) ;; *) echo "--engine is mariadb, postgresql or redis" >&2; exit 2 ;; esac

. "$(dirname "$0")/common.sh"
WORK="$ROOT/target/bench/cutover-$ENGINE"
mkdir -p "$WORK"
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
APP=bench_app APP_PW=bench-app-pw DB=cutbench
[ "$ENGINE" = postgresql ] && exec "$(dirname "$0")/cutover-benchmark-postgres.sh" "$ROUNDS" "$ROWS" "$THREADS" "$RATE" "$BUDGET" "$ROLLBACK"
[ "$ENGINE" = redis ] && exec "$(dirname "$0")/cutover-benchmark-redis.sh" "$ROUNDS" "$ROWS" "$THREADS" "$BUDGET" "$ROLLBACK"
require "apt-get install -y sysbench mariadb-client" sysbench mariadb
PW=$(cat "$ROOT/.sandbox/secrets/mariadb.password")
DRIVER=$(ls "$HOME"/.m2/repository/org/mariadb/jdbc/mariadb-java-client/*/mariadb-java-client-*.jar | grep -v sources | head -1)

src() { mariadb -h127.0.0.1 -P13306 -umigrator -p"$PW" -N -B "$@"; }
tgt() { mariadb -h127.0.0.1 -P13307 -umigrator -p"$PW" -N -B "$@"; }
# HAProxy's runtime API, one command (bash's /dev/tcp: no socat needed)
haproxy() { exec 3<>/dev/tcp/127.0.0.1/13399; echo "$1" >&3; cat <&3; exec 3<&-; }
(exec 3<>/dev/tcp/127.0.0.1/13300) 2>/dev/null || { echo "HAProxy is not running: ./migrator sandbox up --engines mariadb --proxies" >&2; exit 1; }

PLAN="$WORK/plan.yaml"
echo "$PW" > "$WORK/pw"
cat > "$PLAN" <<EOF
name: cutbench
source: {engine: mariadb, host: 127.0.0.1, port: 13306, user: migrator, password: "\${file:$WORK/pw}", database: $DB}
target: {engine: mariadb, host: 127.0.0.1, port: 13307, user: migrator, password: "\${file:$WORK/pw}", database: $DB}
control: {listen: "127.0.0.1:19464"}
cutover:
  maxDowntime: $BUDGET
  maxLag: 2s
  applicationUsers: ["$APP@%"]
  switch:
    - haproxy: {admin: "127.0.0.1:13399", backend: mariadb, server: primary}
EOF
SB="sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-db=$DB --tables=4 --table-size=$ROWS"

if [ -n "$ROLLBACK" ]; then
  printf '| round | cutover writeFreezeMillis | cutover probe gap ms | rollback writeFreezeMillis | rollback probe gap ms | probe failed writes | acknowledged lost (old source) | sysbench errors + reconnects | sysbench tps |\n' > "$WORK/table.md"
  printf '|---|---|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
else
  printf '| round | writeFreezeMillis | probe gap ms | probe failed writes | acknowledged lost | sysbench errors + reconnects | sysbench tps |\n' > "$WORK/table.md"
  printf '|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
fi
for round in $(seq 1 "$ROUNDS"); do
  log "round $round: fresh databases, users, proxy on the source"
  haproxy "set server mariadb/primary addr 127.0.0.1 port 13306" >/dev/null
  ./migrator complete "$PLAN" >/dev/null 2>&1 || true
  for side in src tgt; do
    $side -e "DROP DATABASE IF EXISTS $DB; DROP USER IF EXISTS '$APP'@'%'; CREATE USER '$APP'@'%' IDENTIFIED BY '$APP_PW';
              GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB\`.* TO '$APP'@'%'"
  done
  src -e "CREATE DATABASE $DB; CREATE TABLE $DB.probe (id BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL)"
  $SB --mysql-port=13306 --mysql-user=migrator --mysql-password="$PW" --threads=2 oltp_write_only prepare >/dev/null

  "$ROOT/migrator" run "$PLAN" > "$WORK/worker-$round.log" 2>&1 &
  WORKER=$!
  "$ROOT/migrator" wait "$PLAN" --for STREAMING --timeout 300s >/dev/null
  "$ROOT/migrator" validate "$PLAN" >/dev/null

  rm -f "$WORK/stop" "$WORK/mark"
  CHECK_PORT=13307; [ -n "$ROLLBACK" ] && CHECK_PORT=13306 # a round trip ends on the old source: every acknowledged write must be there
  $SB --mysql-port=13300 --mysql-user=$APP --mysql-password=$APP_PW --threads="$THREADS" --rate="$RATE" --time=0 \
      --mysql-ignore-errors=all --report-interval=1 oltp_write_only run > "$WORK/sysbench-$round.log" 2>&1 &
  SYSBENCH=$!
  "$JAVA" -cp "$DRIVER" "$ROOT/bench/CutoverProbe.java" "jdbc:mariadb://127.0.0.1:13300/$DB?connectTimeout=2000&socketTimeout=10000" "$APP" "$APP_PW" \
      "jdbc:mariadb://127.0.0.1:$CHECK_PORT/$DB" migrator "$PW" "$WORK/stop" "$WORK/mark" > "$WORK/probe-$round.log" 2>&1 &
  PROBE=$!
  sleep 3
  "$ROOT/migrator" wait "$PLAN" --for "lag<2s" --timeout 120s >/dev/null
  log "round $round: cutover under load"
  "$ROOT/migrator" cutover "$PLAN" -o json > "$WORK/cutover-$round.json" || true
  [ -n "$ROLLBACK" ] && rollback_round "$PLAN" "$WORK" "$round"
  sleep 2
  touch "$WORK/stop"
  wait $PROBE || true
  # sysbench 1.0.20 does not always end after its sessions were shut down: its per-second reports are what is kept
  kill -KILL $SYSBENCH 2>/dev/null || true; wait $SYSBENCH 2>/dev/null || true
  kill -TERM $WORKER 2>/dev/null || true; wait $WORKER || true

  FREEZE=$(freeze_millis "$WORK/cutover-$round.json")
  read -r ACKED ERRS GAP LOST MARK_GAP < <(sed -n 's/acked=\([0-9]*\) errors=\([0-9]*\) gap_ms=\([0-9]*\) lost=\([0-9]*\) mark_gap_ms=\([0-9]*\)/\1 \2 \3 \4 \5/p' "$WORK/probe-$round.log")
  # per-second lines: "[ 5s ] thds: 4 tps: 199.96 ... err/s: 0.00 reconn/s: 0.00"
  read -r SB_TPS SB_ERR < <(awk '/ tps: / { for (i = 1; i <= NF; i++) { if ($i == "tps:") { t += $(i + 1); n++ } if ($i == "err/s:" || $i == "reconn/s:") e += $(i + 1) } }
      END { printf "%.0f %.0f\n", n ? t / n : 0, e }' "$WORK/sysbench-$round.log")
  if [ -n "$ROLLBACK" ]; then
    BACK=$(freeze_millis "$WORK/rollback-$round.json")
    printf '| %d | %s | %s | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${BACK:-?}" "${MARK_GAP:-?}" "${ERRS:-?}" \
        "${LOST:-?}" "${ACKED:-?}" "${SB_ERR:-?}" "${SB_TPS:-?}" >> "$WORK/table.md"
  else
    printf '| %d | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${ERRS:-?}" "${LOST:-?}" "${ACKED:-?}" \
        "${SB_ERR:-?}" "${SB_TPS:-?}" >> "$WORK/table.md"
  fi
  log "round $round: freeze ${FREEZE:-?} ms, probe gap ${GAP:-?} ms, lost ${LOST:-?} of ${ACKED:-?}"
done
haproxy "set server mariadb/primary addr 127.0.0.1 port 13306" >/dev/null
./migrator complete "$PLAN" >/dev/null 2>&1 || true
cat "$WORK/table.md"
"$ROOT/bench/cutover-summary.sh" "$WORK/table.md" ${ROLLBACK:+--rollback}
