#!/usr/bin/env bash
# MySQL/MariaDB benchmark: snapshot against mariadb-dump | mariadb and mydumper/myloader, and binlog
# catch-up against a native MariaDB replica (uniform and hot-key), all on the sandbox pair, same run.
# Prints a table; docs/benchmarks.md records the results with this command.
#
#   [JAVA_OPTS=...] bench/mysql-benchmark.sh [--tables 8] [--rows 1000000] [--threads 4] [--txns 200000] [--skip-prepare] [--snapshot-only]
#                                            [--catchup-only]   (no peer snapshots: migrator's copy, then the catch-ups)
#
# Needs: ./migrator sandbox up --engines mariadb; apt-get install -y sysbench mydumper.
set -euo pipefail

TABLES=8 ROWS=1000000 THREADS=4 TXNS=200000 PREPARE=1 SNAPSHOT_ONLY=0 PEERS=1
while [ $# -gt 0 ]; do
  case $1 in
    --tables) TABLES=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --txns) TXNS=$2; shift 2 ;;
    --skip-prepare) PREPARE=0; shift ;;
    --snapshot-only) SNAPSHOT_ONLY=1; shift ;;
    --catchup-only) PEERS=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/common.sh"
PW=$(cat "$ROOT/.sandbox/secrets/mariadb.password")
WORK="$ROOT/target/bench"
mkdir -p "$WORK"
require "apt-get install -y sysbench mydumper mariadb-client" sysbench mydumper myloader mariadb-dump mariadb

src() { mariadb -h127.0.0.1 -P13306 -umigrator -p"$PW" -N -B "$@"; }
tgt() { mariadb -h127.0.0.1 -P13307 -umigrator -p"$PW" -N -B "$@"; }
# Each copy writes ~2 GB to the target's binlog, which the sandbox keeps a day: purge it, or repeated runs fill the disk.
reset_target() { tgt -e "STOP SLAVE; RESET SLAVE ALL" 2>/dev/null || true; tgt -e "DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS migrator; CREATE DATABASE sbtest; FLUSH BINARY LOGS; PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 SECOND"; }
checksums() { "$1" -e "CHECKSUM TABLE $(seq -s, -f 'sbtest.sbtest%g' 1 "$TABLES")" | awk '{print $2}' | tr '\n' ' '; }
position() { src -e "SHOW MASTER STATUS" | awk '{print $1, $2}'; }
# CPU seconds a process has used so far (all its threads)
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' /proc/"$1"/stat; }
TGT_PID=$(cat "$ROOT/.sandbox/mariadb-target/mysqld.pid")
SB="sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=13306 --mysql-user=migrator --mysql-password=$PW --mysql-db=sbtest --tables=$TABLES --table-size=$ROWS"

if [ "$PREPARE" = 1 ]; then
  log "preparing $TABLES x $ROWS sysbench rows on the source"
  src -e "DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest"
  $SB --threads=2 oltp_update_non_index prepare >/dev/null
fi
SOURCE_SUMS=$(checksums src)
BYTES=$(src -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")

# --- snapshot: mariadb-dump | mariadb -------------------------------------------------------------
DUMP=- DUMP_OK=- MYDUMPER=- MYDUMPER_OK=- NOLOG=- NOLOG_OK=-
if [ "$PEERS" = 1 ]; then
reset_target
log "snapshot: mariadb-dump | mariadb"
t0=$(now)
mariadb-dump -h127.0.0.1 -P13306 -umigrator -p"$PW" --single-transaction --quick --skip-lock-tables sbtest \
  | mariadb -h127.0.0.1 -P13307 -umigrator -p"$PW" sbtest
DUMP=$(secs "$t0" "$(now)")
[ "$(checksums tgt)" = "$SOURCE_SUMS" ] && DUMP_OK=yes || DUMP_OK=NO

# --- snapshot: mydumper / myloader ----------------------------------------------------------------
reset_target
log "snapshot: mydumper -t $THREADS then myloader -t $THREADS"
rm -rf "$WORK/mydumper"
t0=$(now)
mydumper -h 127.0.0.1 -P 13306 -u migrator -p "$PW" -B sbtest -t "$THREADS" -o "$WORK/mydumper" >/dev/null 2>&1
myloader -h 127.0.0.1 -P 13307 -u migrator -p "$PW" -B sbtest -t "$THREADS" -d "$WORK/mydumper" -o >/dev/null 2>&1
MYDUMPER=$(secs "$t0" "$(now)")
[ "$(checksums tgt)" = "$SOURCE_SUMS" ] && MYDUMPER_OK=yes || MYDUMPER_OK=NO
rm -rf "$WORK/mydumper"

# --- snapshot: migrator, copied rows kept out of the target binlog (as myloader does unless -e) -------
reset_target
cat > "$WORK/bench-nolog.yaml" <<PLAN
name: bench-nolog
source: {engine: mariadb, host: 127.0.0.1, port: 13306, user: migrator, password: "\${file:$ROOT/.sandbox/secrets/mariadb.password}", database: sbtest}
target: {engine: mariadb, host: 127.0.0.1, port: 13307, user: migrator, password: "\${file:$ROOT/.sandbox/secrets/mariadb.password}", database: sbtest}
snapshot: {parallelism: $THREADS, chunkRows: 50000, targetBinlog: false}
control: {listen: "127.0.0.1:9478"}
PLAN
log "snapshot: migrator run, snapshot.targetBinlog: false"
MIGRATOR_STATE_DIR="$WORK/state-nolog" JAVA_OPTS="-Xmx512m ${JAVA_OPTS:-}" "$ROOT/migrator" run "$WORK/bench-nolog.yaml" >"$WORK/worker-nolog.log" 2>&1 &
NOLOG_PID=$!
t0=$(now)
until [ "$(tgt -e "SELECT phase FROM migrator.state WHERE migration = 'bench-nolog'" 2>/dev/null)" = CATCH_UP ] \
    || [ "$(tgt -e "SELECT phase FROM migrator.state WHERE migration = 'bench-nolog'" 2>/dev/null)" = STREAMING ]; do
  kill -0 $NOLOG_PID || { tail -20 "$WORK/worker-nolog.log"; exit 1; }
  sleep 0.2
done
NOLOG=$(secs "$t0" "$(now)")
kill -TERM $NOLOG_PID; wait $NOLOG_PID || true
[ "$(checksums tgt)" = "$SOURCE_SUMS" ] && NOLOG_OK=yes || NOLOG_OK=NO
fi

# --- snapshot: migrator ------------------------------------------------------------------------------
reset_target
cat > "$WORK/bench-plan.yaml" <<PLAN
name: bench-sbtest
source: {engine: mariadb, host: 127.0.0.1, port: 13306, user: migrator, password: "\${file:$ROOT/.sandbox/secrets/mariadb.password}", database: sbtest}
target: {engine: mariadb, host: 127.0.0.1, port: 13307, user: migrator, password: "\${file:$ROOT/.sandbox/secrets/mariadb.password}", database: sbtest}
snapshot: {parallelism: $THREADS, chunkRows: 50000}
PLAN
export MIGRATOR_STATE_DIR="$WORK/state"
rm -rf "$MIGRATOR_STATE_DIR"
HEAP_MAX=0
start_worker() {
  # heap use is read from the GC log (the heap in use when each collection starts): sampling with jstat would start a
  # JVM every second on these 2 cores, next to the timed run
  JAVA_OPTS="-Xmx512m -Xlog:gc:file=$WORK/gc-%p.log ${JAVA_OPTS:-}" "$ROOT/migrator" run "$WORK/bench-plan.yaml" >>"$WORK/worker.log" 2>&1 &
  WORKER=$!
}
stop_worker() { kill -TERM $WORKER; wait $WORKER || true; }
phase() { tgt -e "SELECT phase FROM migrator.state WHERE migration = 'bench-sbtest'" 2>/dev/null || true; }
: >"$WORK/worker.log"; rm -f "$WORK"/gc-*.log
log "snapshot: migrator run (-Xmx512m, parallelism $THREADS)"
SRC_PID=$(cat "$ROOT/.sandbox/mariadb-source/mysqld.pid")
t0=$(now) s0=$(cpu "$SRC_PID") g0=$(cpu "$TGT_PID")
start_worker
until p=$(phase) && { [ "$p" = CATCH_UP ] || [ "$p" = STREAMING ]; }; do
  kill -0 $WORKER || { tail -20 "$WORK/worker.log"; exit 1; }
  sleep 0.2
done
MIGRATOR=$(secs "$t0" "$(now)")
SNAPSHOT_CPU="source $(secs "$s0" "$(cpu "$SRC_PID")") s, target $(secs "$g0" "$(cpu "$TGT_PID")") s, JVM $(cpu "$WORKER") s"
sleep 2
[ "$(checksums tgt)" = "$SOURCE_SUMS" ] && MIGRATOR_OK=yes || MIGRATOR_OK=NO

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2fx", a / b }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s == "-") print "-"; else printf "%d", n / s }'; }
TOTAL=$((TABLES * ROWS))
snapshot_table() {
  printf '| %-44s | %9s | %12s | %-22s | %-22s | %s |\n' "snapshot (start-up included)" "seconds" "rows/s" "migrator (binlog on) is" "migrator (binlog off) is" "checksums equal"
  printf '|%s|%s|%s|%s|%s|%s|\n' "----------------------------------------------" "-----------" "--------------" "------------------------" "------------------------" "-----------------"
  printf '| %-44s | %9s | %12s | %-22s | %-22s | %s |\n' "mariadb-dump | mariadb (target binlog on)" "$DUMP" "$(rate $TOTAL $DUMP)" "$(ratio $DUMP $MIGRATOR) faster" "$(ratio $DUMP $NOLOG) faster" "$DUMP_OK"
  printf '| %-44s | %9s | %12s | %-22s | %-22s | %s |\n' "mydumper + myloader -t $THREADS (binlog off)" "$MYDUMPER" "$(rate $TOTAL $MYDUMPER)" "$(ratio $MYDUMPER $MIGRATOR) faster" "$(ratio $MYDUMPER $NOLOG) faster" "$MYDUMPER_OK"
  printf '| %-44s | %9s | %12s | %-22s | %-22s | %s |\n' "migrator run, parallelism $THREADS (binlog on)" "$MIGRATOR" "$(rate $TOTAL $MIGRATOR)" "" "" "$MIGRATOR_OK"
  printf '| %-44s | %9s | %12s | %-22s | %-22s | %s |\n' "migrator run, snapshot.targetBinlog: false" "$NOLOG" "$(rate $TOTAL $NOLOG)" "" "" "$NOLOG_OK"
  echo
  echo "CPU used by migrator's copy (binlog on; 2 cores): $SNAPSHOT_CPU"
}
if [ "$SNAPSHOT_ONLY" = 1 ]; then
  kill -TERM $WORKER 2>/dev/null; wait $WORKER 2>/dev/null || true
  echo; snapshot_table; exit 0
fi

# --- catch-up: migrator ------------------------------------------------------------------------------
caught_up_migrator() { # $1 file $2 pos
  tgt -e "SELECT position FROM migrator.checkpoint WHERE migration = 'bench-sbtest'" | python3 -c "
import json, sys
p = json.loads(sys.stdin.read()); f, pos = sys.argv[1], int(sys.argv[2])
sys.exit(0 if (p['file'], p['pos']) >= (f, pos) else 1)" "$1" "$2"
}
backlog() { # $1 label, rand options
  local label=$1; shift
  log "backlog: $TXNS single-row update transactions ($label)"
  src -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2"
  $SB --threads=4 --events="$TXNS" --time=0 "$@" oltp_update_non_index run >/dev/null
  src -e "SET GLOBAL innodb_flush_log_at_trx_commit = 1"
}
stop_worker
declare -A CDC CPU
for mode in uniform hot; do
  if [ $mode = uniform ]; then backlog uniform --rand-type=uniform; else backlog "hot: 1% of rows take 90%" --rand-type=special --rand-spec-pct=1 --rand-spec-res=90; fi
  read -r gf gp <<<"$(position)"
  log "catch-up: migrator ($mode)"
  t0=$(now) g0=$(cpu "$TGT_PID")
  start_worker
  until caught_up_migrator "$gf" "$gp" 2>/dev/null; do sleep 0.1; done
  CDC[migrator_$mode]=$(secs "$t0" "$(now)")
  CPU[migrator_$mode]="target $(secs "$g0" "$(cpu "$TGT_PID")") s, JVM $(cpu "$WORKER") s"
  stop_worker
done
sleep 1
[ "$(checksums tgt)" = "$(checksums src)" ] && CDC_OK=yes || CDC_OK=NO

# --- catch-up: native replica --------------------------------------------------------------------------
read -r rf rp <<<"$(position)"
tgt -e "SET GLOBAL gtid_strict_mode = 0; STOP SLAVE; RESET SLAVE ALL; SET GLOBAL replicate_do_db = 'sbtest';
  CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 13306, MASTER_USER = 'migrator', MASTER_PASSWORD = '$PW',
  MASTER_LOG_FILE = '$rf', MASTER_LOG_POS = $rp, MASTER_USE_GTID = no"
for mode in uniform hot; do
  if [ $mode = uniform ]; then backlog uniform --rand-type=uniform; else backlog "hot: 1% of rows take 90%" --rand-type=special --rand-spec-pct=1 --rand-spec-res=90; fi
  read -r gf gp <<<"$(position)"
  log "catch-up: native replica ($mode)"
  t0=$(now) g0=$(cpu "$TGT_PID")
  tgt -e "START SLAVE"
  until mariadb -h127.0.0.1 -P13307 -umigrator -p"$PW" -e "SHOW SLAVE STATUS\G" | awk -v f="$gf" -v p="$gp" '/Relay_Master_Log_File/ {rf=$2} /Exec_Master_Log_Pos/ {rp=$2} END {exit !((rf > f) || (rf == f && rp >= p))}'; do sleep 0.1; done
  CDC[native_$mode]=$(secs "$t0" "$(now)")
  CPU[native_$mode]="target $(secs "$g0" "$(cpu "$TGT_PID")") s"
  tgt -e "STOP SLAVE"
done
tgt -e "RESET SLAVE ALL; SET GLOBAL replicate_do_db = ''; SET GLOBAL gtid_strict_mode = 1"
HEAP_MAX=$(cat "$WORK"/gc-*.log | sed -n 's/.* \([0-9]*\)M->[0-9]*M(.*/\1/p' | sort -n | tail -1)

echo
echo "MySQL/MariaDB benchmark — $TABLES x $ROWS sysbench rows ($((BYTES / 1048576)) MB), $THREADS threads, $TXNS transactions per catch-up; $(nproc) cores"
echo
snapshot_table
echo
printf '| %-34s | %9s | %12s | %-14s |\n' "catch-up of $TXNS transactions" "seconds" "txn/s" "migrator is"
printf '|%s|%s|%s|%s|\n' "------------------------------------" "-----------" "--------------" "----------------"
for mode in uniform hot; do
  printf '| %-34s | %9s | %12s | %-14s |\n' "native replica, $mode" "${CDC[native_$mode]}" "$(rate $TXNS ${CDC[native_$mode]})" "$(ratio ${CDC[native_$mode]} ${CDC[migrator_$mode]}) faster"
  printf '| %-34s | %9s | %12s | %-14s |\n' "migrator, $mode" "${CDC[migrator_$mode]}" "$(rate $TXNS ${CDC[migrator_$mode]})" ""
done
echo
echo "migrator heap: at most ${HEAP_MAX:-?} MB used under -Xmx512m (GC log: in use when a collection starts); target equals source after catch-up: $CDC_OK"
echo
echo "CPU used while catching up (2 cores):"
for mode in uniform hot; do
  echo "- $mode: native replica: ${CPU[native_$mode]}; migrator: ${CPU[migrator_$mode]}"
done
