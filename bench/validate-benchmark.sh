#!/usr/bin/env bash
# Validation benchmark: rows/s of `migrator validate` against pt-table-checksum and a plain CHECKSUM TABLE on both
# servers (the full-scan floor), on the same sysbench tables, same run. Prints a table; docs/benchmarks.md records it.
#
#   bench/validate-benchmark.sh [--tables 8] [--rows 1000000] [--parallelism 2]
#
# Needs: ./migrator sandbox up --engines mariadb; apt-get install -y sysbench mydumper percona-toolkit.
# Uses the sysbench tables bench/mysql-benchmark.sh prepared (prepares them if missing) and copies them to the
# target with mydumper/myloader when the target's copy differs.
set -euo pipefail

TABLES=8 ROWS=1000000 PAR=2
while [ $# -gt 0 ]; do
  case $1 in
    --tables) TABLES=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --parallelism) PAR=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/common.sh"
PW=$(cat "$ROOT/.sandbox/secrets/mariadb.password")
WORK="$ROOT/target/bench-validate"
mkdir -p "$WORK"
require "apt-get install -y sysbench mydumper percona-toolkit mariadb-client" sysbench mydumper myloader pt-table-checksum mariadb

src() { mariadb -h127.0.0.1 -P13306 -umigrator -p"$PW" -N -B "$@"; }
tgt() { mariadb -h127.0.0.1 -P13307 -umigrator -p"$PW" -N -B "$@"; }
rate() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.0f", r / s }'; }
LIST=$(seq -s, -f 'sbtest.sbtest%g' 1 "$TABLES")
checksums() { "$1" -e "CHECKSUM TABLE $LIST" | awk '{print $2}' | tr '\n' ' '; }

if [ "$(src -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")" -lt "$TABLES" ]; then
  log "preparing $TABLES x $ROWS sysbench rows on the source"
  src -e "DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest"
  sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=13306 --mysql-user=migrator --mysql-password="$PW" \
    --mysql-db=sbtest --tables="$TABLES" --table-size="$ROWS" --threads=2 oltp_read_write prepare >/dev/null
fi
if [ "$(checksums src)" != "$(checksums tgt)" ]; then
  log "copying sbtest to the target with mydumper/myloader"
  rm -rf "$WORK/dump"
  mydumper -h 127.0.0.1 -P 13306 -u migrator -p "$PW" -B sbtest -t 2 -o "$WORK/dump" >/dev/null
  tgt -e "DROP DATABASE IF EXISTS sbtest"
  myloader -h 127.0.0.1 -P 13307 -u migrator -p "$PW" -B sbtest -t 2 -d "$WORK/dump" -o >/dev/null
fi
[ "$(checksums src)" = "$(checksums tgt)" ] || { echo "source and target sbtest differ before the benchmark" >&2; exit 1; }
TOTAL=$(src -e "SELECT SUM(c) FROM ($(seq -s ' UNION ALL ' -f 'SELECT COUNT(*) c FROM sbtest.sbtest%g' 1 "$TABLES")) x")
log "$TOTAL rows in $TABLES tables"

# --- CHECKSUM TABLE on both servers at once: the full-scan floor ----------------------------------
log "CHECKSUM TABLE on both servers"
t0=$(now)
checksums src >"$WORK/src.sums" & checksums tgt >"$WORK/tgt.sums"; wait
FLOOR=$(secs "$t0" "$(now)")

# --- pt-table-checksum: its checksums need a replica to recompute them, so give it the same work as migrator:
#     one run on each server, both at once (wall time of the slower), plus the source-only run for reference
pt() {
  pt-table-checksum h=127.0.0.1,P=$1,u=migrator,p="$PW" --databases sbtest --recursion-method none \
    --no-check-binlog-format --no-check-replication-filters --set-vars innodb_lock_wait_timeout=50 >"$WORK/pt-$1.out" 2>&1 || true
}
ptrows() { awk 'NR > 2 && $4 ~ /^[0-9]+$/ { s += $4 } END { print s + 0 }' "$WORK/pt-$1.out"; }
src -e "DROP DATABASE IF EXISTS percona"; tgt -e "DROP DATABASE IF EXISTS percona"
log "pt-table-checksum on the source only"
t0=$(now); pt 13306; PT1=$(secs "$t0" "$(now)"); PT1_ROWS=$(ptrows 13306)
src -e "DROP DATABASE IF EXISTS percona"
log "pt-table-checksum on both servers at once"
t0=$(now); pt 13306 & pt 13307; wait; PT=$(secs "$t0" "$(now)")
PT_ROWS=$(ptrows 13307)
src -e "DROP DATABASE IF EXISTS percona"; tgt -e "DROP DATABASE IF EXISTS percona"

# --- migrator validate (no worker: both servers checksum each range) -------------------------------
cat > "$WORK/plan.yaml" <<PLAN
name: bench-validate
source: {engine: mariadb, host: 127.0.0.1, port: 13306, user: migrator, password: "\${file:$ROOT/.sandbox/secrets/mariadb.password}", database: sbtest}
target: {engine: mariadb, host: 127.0.0.1, port: 13307, user: migrator, password: "\${file:$ROOT/.sandbox/secrets/mariadb.password}", database: sbtest}
control: {listen: "127.0.0.1:9479"}
validation: {parallelism: $PAR}
PLAN
log "migrator validate (parallelism $PAR)"
t0=$(now)
/usr/bin/time -f "%M" -o "$WORK/rss.kb" java -Xmx512m -jar "$JAR" -o json validate "$WORK/plan.yaml" >"$WORK/validate.json" 2>"$WORK/validate.err" || true
MIG=$(secs "$t0" "$(now)")
MIG_ROWS=$(python3 -c "import json; print(json.load(open('$WORK/validate.json'))['rowsCompared'])")
MIG_STATE=$(python3 -c "import json; print(json.load(open('$WORK/validate.json'))['state'])")
RSS=$(( $(cat "$WORK/rss.kb") / 1024 ))

printf '\n| tool | what it checks | rows per server | seconds | rows/s per server | migrator vs it |\n|---|---|---|---|---|---|\n'
vs() { awk -v a="$1" -v ra="$2" -v b="$MIG" -v rb="$MIG_ROWS" 'BEGIN { if (a > 0 && ra > 0) printf "%.2fx", (rb / b) / (ra / a); else print "n/a" }'; }
printf '| CHECKSUM TABLE, both servers at once | whole tables, no ranges (the full-scan floor) | %s | %s | %s | %s |\n' "$TOTAL" "$FLOOR" "$(rate "$TOTAL" "$FLOOR")" "$(vs "$FLOOR" "$TOTAL")"
printf '| pt-table-checksum, both servers at once | chunked checksums on each server (no comparison without a replica) | %s | %s | %s | %s |\n' "$PT_ROWS" "$PT" "$(rate "$PT_ROWS" "$PT")" "$(vs "$PT" "$PT_ROWS")"
printf '| pt-table-checksum, source only | chunked checksums, one server | %s | %s | %s | %s |\n' "$PT1_ROWS" "$PT1" "$(rate "$PT1_ROWS" "$PT1")" "$(vs "$PT1" "$PT1_ROWS")"
printf '| migrator validate (%s ranges at once) | checksums on both servers, compared: %s | %s | %s | %s | 1.00x |\n' "$PAR" "$MIG_STATE" "$MIG_ROWS" "$MIG" "$(rate "$MIG_ROWS" "$MIG")"
printf '\nmigrator validate: peak RSS %s MiB under -Xmx512m; its seconds include JVM start-up\n' "$RSS"
