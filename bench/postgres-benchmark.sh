#!/usr/bin/env bash
# PostgreSQL benchmark: snapshot of pgbench tables against `pg_dump | psql` and `pgcopydb clone` (same job count),
# all on the sandbox pair, same run, start-up included; then WAL catch-up of a pgbench backlog (single-row update
# transactions, uniform and hot-key) by migrator and by a native logical-replication subscription.
# Prints a table; docs/benchmarks.md records the results with this command.
#
#   [JAVA_OPTS=...] bench/postgres-benchmark.sh [--scale 100] [--jobs 2] [--txns 100000] [--skip-prepare] [--snapshot-only]
#                                               [--catchup-only]   (no peer snapshots: migrator's copy, then the catch-up)
#                                               [--big-txn N]      (a third backlog: one transaction updating N rows)
#                                               [--modes "uniform hot"] (which catch-up backlogs; --big-txn adds big)
#                                               [--tls MODE]       (prefer, the drivers' default and this script's, or
#                                                                   disable: migrator's plan and the native subscription alike)
#                                               [--target-buffers SIZE] (the target's shared_buffers for the catch-ups,
#                                                                   2GB unless told: it then holds pgbench_accounts and its
#                                                                   index, as a production target's buffer pool holds its
#                                                                   working set; `keep` leaves the sandbox's 128MB; the
#                                                                   target restarts for it and again at the end)
# CATCHUP_JAVA_OPTS: more JVM options for the catch-up runs only; @MODE@ becomes uniform or hot, e.g.
#   CATCHUP_JAVA_OPTS=-XX:StartFlightRecording=filename=/tmp/catchup-@MODE@.jfr,settings=profile
#
# Needs: ./migrator sandbox up --engines postgresql; apt-get install -y pgcopydb (pg_dump, psql, pgbench come with postgresql).
set -euo pipefail

SCALE=100 JOBS=2 TXNS=100000 PREPARE=1 SNAPSHOT_ONLY=0 PEERS=1 BIG=0 TLS=prefer MODES="uniform hot" TARGET_BUFFERS=2GB
CATCHUP_JAVA_OPTS=${CATCHUP_JAVA_OPTS:-}
while [ $# -gt 0 ]; do
  case $1 in
    --scale) SCALE=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --txns) TXNS=$2; shift 2 ;;
    --skip-prepare) PREPARE=0; shift ;;
    --snapshot-only) SNAPSHOT_ONLY=1; shift ;;
    --catchup-only) PEERS=0; shift ;;
    --big-txn) BIG=$2; shift 2 ;;
    --tls) TLS=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --target-buffers) TARGET_BUFFERS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/common.sh"
export PGPASSWORD=$(cat "$ROOT/.sandbox/secrets/postgresql.password")
WORK="$ROOT/target/bench"
mkdir -p "$WORK"
require "apt-get install -y postgresql-client pgcopydb" pg_dump psql pgbench pgcopydb jstat jcmd

SRC="postgres://migrator@127.0.0.1:15432"
TGT="postgres://migrator@127.0.0.1:15433"
src() { psql "$SRC/${DB:-bench}" -Atq -v ON_ERROR_STOP=1 "$@"; }
tgt() { psql "$TGT/${DB:-bench}" -Atq -v ON_ERROR_STOP=1 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-") print "-"; else printf "%.2f", a / b }'; }
# CPU seconds used so far by a process and the children it reaped (for a postmaster: every backend, ended or running)
# the busiest threads of a JVM: name and CPU seconds, largest first (where the JVM's time went, without a profiler)
threads() { for t in /proc/"$1"/task/*; do printf '%s\t' "$(cat "$t/comm")"; cat "$t/stat" | sed 's/.*) //'; done 2>/dev/null \
  | awk -F'\t' -v hz="$(getconf CLK_TCK)" '{ split($2, f, " "); name = $1; sub(/-?[0-9]+$/, "", name); s[name] += (f[12] + f[13]) / hz }
      END { for (n in s) if (s[n] >= 0.1) printf "%.1f\t%s\n", s[n], n }' | sort -nr | head -6 | awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'; }
# (read through cat: a server process that ends between pgrep and the read is skipped; awk would fail on it and end the run)
cpu() { { cat /proc/"$1"/stat $(for c in $(pgrep -P "$1"); do echo /proc/"$c"/stat; done) 2>/dev/null || true; } \
  | awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 + $16 + $17 } END { printf "%.1f", t / hz }'; }
# CPU seconds of each server process of a postmaster, "pid seconds" a line: sampled before and after a catch-up
procs() { for c in $(pgrep -P "$1"); do awk -v hz="$(getconf CLK_TCK)" -v p="$c" '{ printf "%s %.2f\n", p, ($14 + $15) / hz }' \
  /proc/"$c"/stat 2>/dev/null || true; done; }
# the server process that used the most CPU since the sample in file $2 (the applying backend or apply worker), and its title
busiest() { procs "$1" | awk 'NR == FNR { was[$1] = $2; next } { d = $2 - was[$1]; if (d > max) { max = d; pid = $1 } }
  END { printf "%s %.1f\n", pid, max }' "$2" - | { read -r pid sec
  printf '%s s in one process (%s)' "$sec" "$(ps -o args= -p "$pid" 2>/dev/null | sed 's/^postgres: //' | cut -c1-70)"; }; }
SRC_PM=$(head -1 "$ROOT/.sandbox/postgresql-source/data/postmaster.pid")
TGT_PM=$(head -1 "$ROOT/.sandbox/postgresql-target/data/postmaster.pid")
digest() { "$1" -c "SELECT count(*) || ':' || md5(string_agg(md5(a::text), '' ORDER BY aid)) FROM pgbench_accounts a" \
  -c "SELECT count(*) || ':' || md5(string_agg(b::text, '' ORDER BY bid)) FROM pgbench_branches b" | tr '\n' ' '; }
reset_target() {
  DB=postgres tgt -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench"
  DB=postgres src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'bench' AND NOT active" >/dev/null
  src -c "SELECT 'DROP PUBLICATION ' || quote_ident(pubname) FROM pg_publication WHERE pubname LIKE 'migrator_bench_pg%'" | while read -r drop; do
    src -c "$drop"
  done
}

if [ "$PREPARE" = 1 ]; then
  log "preparing pgbench scale $SCALE on the source"
  DB=postgres src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'bench'" >/dev/null
  DB=postgres src -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench"
  pgbench -q -i -s "$SCALE" "$SRC/bench" >/dev/null 2>&1
  src -c "VACUUM ANALYZE"
fi
SOURCE_DIGEST=$(digest src)
BYTES=$(src -c "SELECT pg_database_size('bench')")

# --- snapshot: pg_dump | psql ------------------------------------------------------------------------
DUMP=- DUMP_OK=- COPYDB=- COPYDB_OK=-
if [ "$PEERS" = 1 ]; then
reset_target
log "snapshot: pg_dump | psql"
t0=$(now)
pg_dump "$SRC/bench" | psql -q "$TGT/bench" >/dev/null
DUMP=$(secs "$t0" "$(now)")
[ "$(digest tgt)" = "$SOURCE_DIGEST" ] && DUMP_OK=yes || DUMP_OK=NO

# --- snapshot: pgcopydb clone --------------------------------------------------------------------------
reset_target
log "snapshot: pgcopydb clone --table-jobs $JOBS --index-jobs $JOBS"
rm -rf "$WORK/pgcopydb"
t0=$(now)
pgcopydb clone --source "$SRC/bench" --target "$TGT/bench" --table-jobs "$JOBS" --index-jobs "$JOBS" --dir "$WORK/pgcopydb" \
  --no-owner --no-acl >"$WORK/pgcopydb.log" 2>&1
COPYDB=$(secs "$t0" "$(now)")
[ "$(digest tgt)" = "$SOURCE_DIGEST" ] && COPYDB_OK=yes || COPYDB_OK=NO
fi

# --- snapshot: migrator --------------------------------------------------------------------------------
PLAN="$WORK/pg-bench.yaml"
cat >"$PLAN" <<EOF
name: bench-pg
source: {engine: postgresql, host: 127.0.0.1, port: 15432, user: migrator, password: "\${env:PGPASSWORD}", database: bench, tls: $TLS}
target: {engine: postgresql, host: 127.0.0.1, port: 15433, user: migrator, password: "\${env:PGPASSWORD}", database: bench, tls: $TLS}
tables: {include: ["public.*"], exclude: ["public.pgbench_history"]}
snapshot: {parallelism: $JOBS, chunkRows: 500000}
EOF
reset_target
log "snapshot: migrator run (parallelism $JOBS), until the copy and its indexes are done"
export MIGRATOR_STATE_DIR="$WORK/state"
t0=$(now)
JAVA_OPTS="${JAVA_OPTS:--Xmx512m}" "$ROOT/migrator" run "$PLAN" --listen 127.0.0.1:0 >"$WORK/pg-run.log" 2>&1 &
PID=$!
# the end is the time the worker logs the phase change: neither `migrator wait` (a second JVM) nor a psql poll every
# 0.1 s (about 35 ms of client and server CPU each) takes a share of the 2 cores from the timed run
t1=$(logged "$WORK/pg-run.log" 'phase SNAPSHOT -> CATCH_UP' "$PID") || { tail -20 "$WORK/pg-run.log"; exit 1; }
MIGRATOR=$(secs "$t0" "$t1")
heap() { jstat -gc "$1" | awk 'NR==2 { printf "%.0f", ($3 + $4 + $6 + $8) / 1024 }'; }
JVM_CPU=$(ps -o times= -p "$PID" | tr -d ' ')
HEAP=$(heap "$PID")
jcmd "$PID" GC.run >/dev/null || true # what is live, not what a young collection has not reclaimed yet
LIVE=$(heap "$PID")
[ "$(digest tgt)" = "$SOURCE_DIGEST" ] && MIGRATOR_OK=yes || MIGRATOR_OK=NO

printf '\n## PostgreSQL snapshot: pgbench scale %s (%s MB), %s jobs, %s\n\n' "$SCALE" "$((BYTES / 1048576))" "$JOBS" "$(date -u +%F)"
printf '| tool | seconds | equal | migrator speed-up |\n|---|---|---|---|\n'
printf '| pg_dump \\| psql | %s | %s | %s× |\n' "$DUMP" "$DUMP_OK" "$(ratio "$DUMP" "$MIGRATOR")"
printf '| pgcopydb clone | %s | %s | %s× |\n' "$COPYDB" "$COPYDB_OK" "$(ratio "$COPYDB" "$MIGRATOR")"
printf '| migrator (start-up included) | %s | %s | 1.00× |\n' "$MIGRATOR" "$MIGRATOR_OK"
printf '\nmigrator heap at the end of the copy (-Xmx512m): %s MB in use, %s MB live after a full collection; its JVM used %s s of CPU\n' \
  "$HEAP" "$LIVE" "$JVM_CPU"

java -jar "$JAR" wait "$PLAN" --for STREAMING --timeout 5m -q >/dev/null
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
if [ "$SNAPSHOT_ONLY" = 1 ]; then
  java -jar "$JAR" complete "$PLAN" -q >/dev/null
  exit 0
fi

# --- catch-up: the same backlog of single-row update transactions, applied by a native subscription and by migrator ---
lsn() { src -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }
NATIVE_LSN="SELECT COALESCE((SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'bench_native'), 0)"
MIGRATOR_LSN="SELECT COALESCE((SELECT GREATEST((position::json->>'lsn_commit')::bigint, (position::json->>'lsn_proc')::bigint) \
  FROM migrator.checkpoint WHERE migration = 'bench-pg'), 0)"
# until_reached URL SQL GOAL: asks every 0.2 s until SQL's LSN reaches GOAL, in one psql session for the whole wait
# (a new psql each time would cost the client and the server about 35 ms of CPU, taken from the run being timed)
until_reached() {
  local v=0 pid in out
  coproc POLL { psql "$1" -Atq -v ON_ERROR_STOP=1; }
  pid=$POLL_PID in=${POLL[1]} out=${POLL[0]} # bash unsets POLL once the coprocess ends
  while { echo "$2;" >&"$in"; } 2>/dev/null && read -r v <&"$out" && [ "$v" -lt "$3" ]; do sleep 0.2; done
  eval "exec $in>&- $out<&-"
  wait "$pid" 2>/dev/null || true
  [ "${v:-0}" -ge "$3" ] 2>/dev/null || { echo "lost the LSN poll ($2)" >&2; exit 1; }
}
# The target's buffer pool: with PostgreSQL's default 128MB, the 1.3 GB table and its index do not fit, and both appliers
# spent about 40% of their time copying pages in and out of the kernel (perf, 2026-12-07); a production target's pool holds
# its working set. Both appliers start alike: each applies into a database of its own, copies of the copied tables made
# before any catch-up (the native subscription into bench_native), after a VACUUM and a CHECKPOINT and with their table and
# index in the pool (pg_prewarm), so neither pays the other's dirty pages, dead row versions or cold start.
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
restart_target() {
  local bin
  bin=$(dirname "$(readlink "/proc/$TGT_PM/exe")")
  as_postgres "'$bin/pg_ctl' -D '$ROOT/.sandbox/postgresql-target/data' -l '$ROOT/.sandbox/postgresql-target/postgres.log' -w restart -m fast" \
    >/dev/null </dev/null
  TGT_PM=$(head -1 "$ROOT/.sandbox/postgresql-target/data/postmaster.pid")
}
if [ "$TARGET_BUFFERS" != keep ] && [ "$(tgt -c 'SHOW shared_buffers')" != "$TARGET_BUFFERS" ]; then
  log "catch-up: the target's shared_buffers set to $TARGET_BUFFERS (a restart; the sandbox's own setting comes back at the end)"
  tgt -c "ALTER SYSTEM SET shared_buffers = '$TARGET_BUFFERS'"
  restart_target
  trap 'tgt -c "ALTER SYSTEM RESET shared_buffers" && restart_target' EXIT
fi
BUFFERS=$(tgt -c 'SHOW shared_buffers')
tgt -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm"
if [ "$(DB=postgres tgt -c "SELECT count(*) FROM pg_database WHERE datname = 'bench_native'")" = 1 ]; then
  # a subscription left by an interrupted run keeps its database; its slot on the source may be gone already
  DB=bench_native tgt -c "SELECT 1 FROM pg_subscription WHERE subname = 'bench_native'" | grep -q 1 && \
    DB=bench_native tgt -c "ALTER SUBSCRIPTION bench_native DISABLE" -c "ALTER SUBSCRIPTION bench_native SET (slot_name = NONE)" \
      -c "DROP SUBSCRIPTION bench_native"
fi
src -c "SELECT pg_drop_replication_slot('bench_native') FROM pg_replication_slots WHERE slot_name = 'bench_native' AND NOT active" >/dev/null
DB=postgres tgt -c "DROP DATABASE IF EXISTS bench_native WITH (FORCE)" -c "CREATE DATABASE bench_native TEMPLATE bench STRATEGY FILE_COPY"
# ready DB: the table vacuumed (a copy made from a template has no statistics, so autovacuum would treat the two
# databases differently, even in the middle of a run), a checkpoint (no dirty page of the run before is left to write),
# then DB's table and index in the pool
ready() { DB=$1 tgt -c "VACUUM (ANALYZE) pgbench_accounts" -c "CHECKPOINT" \
  -c "SELECT pg_prewarm('pgbench_accounts') + pg_prewarm('pgbench_accounts_pkey')" >/dev/null; }
src -c "DROP PUBLICATION IF EXISTS bench_native" -c "CREATE PUBLICATION bench_native FOR TABLE pgbench_accounts"
declare -A NATIVE MIGRATOR_CU HEAP_CU CPU_NATIVE CPU_MIGRATOR THREADS
[ "$BIG" -gt 0 ] && MODES="$MODES big"
for mode in $MODES; do
  DB=bench_native tgt -c "DROP SUBSCRIPTION IF EXISTS bench_native" >/dev/null 2>&1 || true
  DB=bench_native tgt -c "CREATE SUBSCRIPTION bench_native CONNECTION 'host=127.0.0.1 port=15432 dbname=bench user=migrator password=$PGPASSWORD sslmode=$TLS' \
    PUBLICATION bench_native WITH (copy_data = false, enabled = false)"
  if [ $mode = big ]; then
    log "catch-up ($mode): writing a backlog of one transaction updating $BIG rows"
    src -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= $BIG"
  else
    if [ $mode = uniform ]; then RANGE="100000 * $SCALE"; else RANGE=100; fi
    printf '\\set aid random(1, %s)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n' "$RANGE" >"$WORK/update-$mode.sql"
    log "catch-up ($mode): writing a backlog of $TXNS single-row update transactions"
    pgbench -n -c 4 -j 2 -t $((TXNS / 4)) -f "$WORK/update-$mode.sql" "$SRC/bench" >/dev/null 2>&1
  fi
  GOAL=$(lsn)
  ready bench_native
  log "catch-up ($mode): native subscription"
  procs "$TGT_PM" >"$WORK/procs-before"
  t0=$(now) s0=$(cpu "$SRC_PM") g0=$(cpu "$TGT_PM")
  DB=bench_native tgt -c "ALTER SUBSCRIPTION bench_native ENABLE"
  until_reached "$SRC/bench" "$NATIVE_LSN" "$GOAL"
  NATIVE[$mode]=$(secs "$t0" "$(now)")
  CPU_NATIVE[$mode]="source $(secs "$s0" "$(cpu "$SRC_PM")") s, target $(secs "$g0" "$(cpu "$TGT_PM")") s, of which $(busiest "$TGT_PM" "$WORK/procs-before")"
  DB=bench_native tgt -c "ALTER SUBSCRIPTION bench_native DISABLE"
  sleep 1
  DB=bench_native tgt -c "DROP SUBSCRIPTION bench_native"
  ready bench
  log "catch-up ($mode): migrator (start-up included)"
  procs "$TGT_PM" >"$WORK/procs-before"
  t0=$(now) s0=$(cpu "$SRC_PM") g0=$(cpu "$TGT_PM")
  JAVA_OPTS="${JAVA_OPTS:--Xmx512m} ${CATCHUP_JAVA_OPTS//@MODE@/$mode}" "$ROOT/migrator" run "$PLAN" --listen 127.0.0.1:0 >"$WORK/pg-catchup-$mode.log" 2>&1 &
  PID=$!
  # the heap in use, sampled every second: its largest value is reported (not only the last)
  (while kill -0 "$PID" 2>/dev/null; do jstat -gc "$PID" 2>/dev/null | awk 'NR==2 { printf "%.0f\n", ($3 + $4 + $6 + $8) / 1024 }'; sleep 1; done) \
    >"$WORK/heap-$mode.log" &
  SAMPLER=$!
  until_reached "$TGT/bench" "$MIGRATOR_LSN" "$GOAL"
  MIGRATOR_CU[$mode]=$(secs "$t0" "$(now)")
  CPU_MIGRATOR[$mode]="source $(secs "$s0" "$(cpu "$SRC_PM")") s, target $(secs "$g0" "$(cpu "$TGT_PM")") s, of which $(busiest "$TGT_PM" "$WORK/procs-before"), JVM $(cpu "$PID") s"
  THREADS[$mode]=$(threads "$PID")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  HEAP_CU[$mode]=$(sort -n "$WORK/heap-$mode.log" | tail -1)
done
SRC_DIGEST=$(digest src)
[ "$(digest tgt)" = "$SRC_DIGEST" ] && [ "$(DB=bench_native digest tgt)" = "$SRC_DIGEST" ] && CU_OK=yes || CU_OK=NO
DB=postgres tgt -c "DROP DATABASE bench_native WITH (FORCE)"
src -c "DROP PUBLICATION bench_native"
java -jar "$JAR" complete "$PLAN" -q >/dev/null # the slot would keep WAL on the source for ever

printf '\n## PostgreSQL catch-up: %s single-row update transactions (pgbench, 4 clients)%s, target shared_buffers %s, %s\n\n' "$TXNS" \
  "$([ "$BIG" -gt 0 ] && echo "; big: one transaction updating $BIG rows")" "$BUFFERS" "$(date -u '+%F %H:%M')"
printf '| backlog | native subscription | migrator (start-up included) | migrator speed-up | largest heap MB |\n|---|---|---|---|---|\n'
for mode in $MODES; do
  printf '| %s | %s s | %s s | %s× | %s |\n' "$mode" "${NATIVE[$mode]}" "${MIGRATOR_CU[$mode]}" "$(ratio "${NATIVE[$mode]}" "${MIGRATOR_CU[$mode]}")" "${HEAP_CU[$mode]}"
done
printf '\nsource, migrator'"'"'s target and the subscription'"'"'s equal afterwards: %s\n' "$CU_OK"
printf '\nCPU used while applying (2 cores):\n'
for mode in $MODES; do
  printf -- '- %s: native: %s; migrator: %s (its busiest threads, CPU s: %s)\n' "$mode" "${CPU_NATIVE[$mode]}" "${CPU_MIGRATOR[$mode]}" "${THREADS[$mode]}"
done
