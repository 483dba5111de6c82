#!/usr/bin/env bash
# The PostgreSQL rounds of bench/cutover-benchmark.sh (run it with --engine postgresql): N cutovers of a PostgreSQL
# migration while pgbench (tpcb-like, rate-limited) and the probe (bench/CutoverProbe.java, one INSERT every 5 ms) write
# through the sandbox's pgbouncer in transaction pooling; the freeze is pgbouncer's PAUSE, the switch repoints pgbouncer.
# Clients queued behind PAUSE must see no error: the table counts pgbench's and the probe's errors. With ROLLBACK=1 each
# round is a round trip: the cutover, 3 s of load on the new server while reverse replication carries it back,
# `migrator rollback` under the same load; the probe's acknowledged rows are then looked for on the old source.
#
#   bench/cutover-benchmark-postgres.sh ROUNDS ROWS THREADS RATE BUDGET [ROLLBACK]
set -euo pipefail
ROUNDS=$1 ROWS=$2 THREADS=$3 RATE=$4 BUDGET=$5 ROLLBACK=${6:-}

. "$(dirname "$0")/common.sh"
require "apt-get install -y postgresql-client" psql pgbench
export PGPASSWORD
PGPASSWORD=$(cat "$ROOT/.sandbox/secrets/postgresql.password")
WORK="$ROOT/target/bench/cutover-postgresql"
mkdir -p "$WORK"
DRIVER=$(ls "$HOME"/.m2/repository/org/postgresql/postgresql/*/postgresql-*.jar | grep -v sources | head -1)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
APP=bench_app APP_PW=bench-app-pw DB=cutbench
INI="$ROOT/.sandbox/pgbouncer/pgbouncer.ini" USERS="$ROOT/.sandbox/pgbouncer/userlist.txt"

src() { psql -h 127.0.0.1 -p 15432 -U migrator -v ON_ERROR_STOP=1 -qAt "$@"; }
tgt() { psql -h 127.0.0.1 -p 15433 -U migrator -v ON_ERROR_STOP=1 -qAt "$@"; }
console() { psql -h 127.0.0.1 -p 15400 -U migrator -qAt -c "$1" pgbouncer; }
console "SHOW VERSION" >/dev/null 2>&1 || { echo "pgbouncer is not running: ./migrator sandbox up --engines postgresql --proxies" >&2; exit 1; }
grep -q "^\"$APP\" " "$USERS" || echo "\"$APP\" \"$APP_PW\"" >> "$USERS"

PLAN="$WORK/plan.yaml"
echo "$PGPASSWORD" > "$WORK/pw"
cat > "$PLAN" <<EOF
name: cutbench-pg
source: {engine: postgresql, host: 127.0.0.1, port: 15432, user: migrator, password: "\${file:$WORK/pw}", database: $DB}
target: {engine: postgresql, host: 127.0.0.1, port: 15433, user: migrator, password: "\${file:$WORK/pw}", database: $DB}
control: {listen: "127.0.0.1:19465"}
cutover:
  maxDowntime: $BUDGET
  maxLag: 2s
  freeze: pgbouncer
  applicationUsers: [$APP]
  switch:
    - pgbouncer: {admin: "127.0.0.1:15400", database: $DB}
EOF
SCALE=$(( (ROWS + 99999) / 100000 ))

if [ -n "$ROLLBACK" ]; then
  printf '| round | cutover writeFreezeMillis | cutover probe gap ms | rollback writeFreezeMillis | rollback probe gap ms | probe failed writes | acknowledged lost (old source) | pgbench errors | pgbench tps |\n' > "$WORK/table.md"
  printf '|---|---|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
else
  printf '| round | writeFreezeMillis | probe gap ms | probe failed writes | acknowledged lost | pgbench errors | pgbench tps |\n' > "$WORK/table.md"
  printf '|---|---|---|---|---|---|---|\n' >> "$WORK/table.md"
fi
for round in $(seq 1 "$ROUNDS"); do
  log "round $round: fresh databases and role, pgbouncer on the source"
  sed -i "/^$DB = /d" "$INI"
  console "RELOAD" >/dev/null
  console "RESUME $DB" >/dev/null 2>&1 || true
  "$ROOT/migrator" complete "$PLAN" --yes >/dev/null 2>&1 || true
  for side in src tgt; do
    $side -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $APP" \
        -c "CREATE ROLE $APP LOGIN PASSWORD '$APP_PW'" -c "CREATE DATABASE $DB"
  done
  pgbench -h 127.0.0.1 -p 15432 -U migrator -i -q -s "$SCALE" "$DB" >/dev/null 2>&1
  src -d "$DB" -c "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY" \
      -c "CREATE TABLE probe (id bigint PRIMARY KEY, at timestamptz NOT NULL)" \
      -c "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $APP" -c "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO $APP"
  console "RELOAD" >/dev/null

  "$ROOT/migrator" run "$PLAN" > "$WORK/worker-$round.log" 2>&1 &
  WORKER=$!
  "$ROOT/migrator" wait "$PLAN" --for STREAMING --timeout 300s >/dev/null
  tgt -d "$DB" -c "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $APP" \
      -c "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO $APP"
  "$ROOT/migrator" validate "$PLAN" >/dev/null

  rm -f "$WORK/stop" "$WORK/mark"
  CHECK_PORT=15433; [ -n "$ROLLBACK" ] && CHECK_PORT=15432 # a round trip ends on the old source: every acknowledged write must be there
  PGPASSWORD=$APP_PW pgbench -h 127.0.0.1 -p 15400 -U $APP -n -c "$THREADS" -j 2 -R "$RATE" -T 3600 -P 1 "$DB" \
      > "$WORK/pgbench-$round.log" 2>&1 &
  PGBENCH=$!
  "$JAVA" -cp "$DRIVER" "$ROOT/bench/CutoverProbe.java" "jdbc:postgresql://127.0.0.1:15400/$DB?prepareThreshold=0&connectTimeout=2&socketTimeout=10" \
      "$APP" "$APP_PW" "jdbc:postgresql://127.0.0.1:$CHECK_PORT/$DB" migrator "$PGPASSWORD" "$WORK/stop" "$WORK/mark" > "$WORK/probe-$round.log" 2>&1 &
  PROBE=$!
  sleep 3
  "$ROOT/migrator" wait "$PLAN" --for "lag<2s" --timeout 120s >/dev/null
  log "round $round: cutover under load"
  "$ROOT/migrator" cutover "$PLAN" -o json > "$WORK/cutover-$round.json" || true
  [ -n "$ROLLBACK" ] && rollback_round "$PLAN" "$WORK" "$round"
  sleep 2
  touch "$WORK/stop"
  wait $PROBE || true
  kill -INT $PGBENCH 2>/dev/null || true; sleep 1; kill -KILL $PGBENCH 2>/dev/null || true; wait $PGBENCH 2>/dev/null || true
  kill -TERM $WORKER 2>/dev/null || true; wait $WORKER || true

  FREEZE=$(freeze_millis "$WORK/cutover-$round.json")
  read -r ACKED ERRS GAP LOST MARK_GAP < <(sed -n 's/acked=\([0-9]*\) errors=\([0-9]*\) gap_ms=\([0-9]*\) lost=\([0-9]*\) mark_gap_ms=\([0-9]*\)/\1 \2 \3 \4 \5/p' "$WORK/probe-$round.log")
  # "progress: 5.0 s, 199.9 tps, lat 3.107 ms stddev 1.2, lag 0.2 ms, 0 failed"; an error aborts a pgbench client with a message
  PG_TPS=$(awk '/^progress: / { for (i = 1; i <= NF; i++) if ($i == "tps,") { t += $(i - 1); n++ } } END { printf "%.0f", n ? t / n : 0 }' "$WORK/pgbench-$round.log")
  PG_ERR=$(grep -ciE "error|aborted" "$WORK/pgbench-$round.log" || true)
  if [ -n "$ROLLBACK" ]; then
    BACK=$(freeze_millis "$WORK/rollback-$round.json")
    printf '| %d | %s | %s | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${BACK:-?}" "${MARK_GAP:-?}" "${ERRS:-?}" \
        "${LOST:-?}" "${ACKED:-?}" "${PG_ERR:-?}" "${PG_TPS:-?}" >> "$WORK/table.md"
  else
    printf '| %d | %s | %s | %s | %s of %s | %s | %s |\n' "$round" "${FREEZE:-?}" "${GAP:-?}" "${ERRS:-?}" "${LOST:-?}" "${ACKED:-?}" \
        "${PG_ERR:-?}" "${PG_TPS:-?}" >> "$WORK/table.md"
  fi
  log "round $round: freeze ${FREEZE:-?} ms, probe gap ${GAP:-?} ms, lost ${LOST:-?} of ${ACKED:-?}, pgbench errors ${PG_ERR:-?}"
done
sed -i "/^$DB = /d" "$INI"
console "RELOAD" >/dev/null
"$ROOT/migrator" complete "$PLAN" --yes >/dev/null 2>&1 || true
cat "$WORK/table.md"
"$ROOT/bench/cutover-summary.sh" "$WORK/table.md" ${ROLLBACK:+--rollback}
