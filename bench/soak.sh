#!/bin/bash
# Mixed-fault soak (issue 27, docs/reliability.md): for each engine, a worker streams from the sandbox's source to its
# target through two fault proxies (bench/faultproxy.py) while a real workload writes to the source — sysbench
# oltp_write_only (MariaDB), pgbench (PostgreSQL), redis-benchmark SET/INCR/HSET/SADD/SETEX/DEL (Redis) — and every
# FAULT_EVERY seconds one fault strikes at random: the worker killed with kill -9 and started again, the source's or the
# target's connections cut (RST), held silent past network.stallTimeout (half-open), or the source or target server
# restarted (the Redis source is not: the sandbox's Redis keeps nothing on disk). The first fault strikes inside the copy.
# A worker that exits by itself is counted and started again, as a runbook would. At the end the writers stop, the faults
# stop, the worker catches up, and an independent comparison (no migrator code) decides: bench/postgres-parity.sh,
# bench/redis-parity.py (values, PTTL), and for MariaDB every row's text dumped in key order by the mariadb client.
#
#   bench/soak.sh [--engines mariadb,postgresql,redis] [--minutes 30] [--fault-every 30]
#
# The engines run side by side (one worker each), so a 30-minute soak of all three takes about 35 minutes. Needs:
# apt-get install -y sysbench mariadb-client postgresql-client redis-tools. Work files: .soak/STAMP (worker logs,
# fault log, parity output, report.txt).
set -u
ENGINES=mariadb,postgresql,redis MINUTES=30 EVERY=30
while [ $# -gt 0 ]; do
  case $1 in
    --engines) ENGINES=$2; shift 2 ;;
    --minutes) MINUTES=$2; shift 2 ;;
    --fault-every) EVERY=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/common.sh"
require "apt-get install -y sysbench mariadb-client postgresql-client redis-tools" sysbench mariadb psql pgbench redis-benchmark redis-cli python3
WORK="$ROOT/.soak/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK"
LOCK="$ROOT/.soak/sandbox.lock"
SECRETS="$ROOT/.sandbox/secrets"
sandbox_up() { flock "$LOCK" "$ROOT/migrator" sandbox up --engines "$1" -q >/dev/null; }
log "sandbox up ($ENGINES); work files in $WORK"
sandbox_up "$ENGINES" || { echo "sandbox up failed" >&2; exit 1; }

# --- per engine: ports, reset, workload, comparison -----------------------------------------------------------------
declare -A SPORT=([mariadb]=13306 [postgresql]=15432 [redis]=16379)
declare -A TPORT=([mariadb]=13307 [postgresql]=15433 [redis]=16380)
declare -A LISTEN=([mariadb]=9481 [postgresql]=9482 [redis]=9483)
declare -A FAULTS=(
  [mariadb]="kill cut-source cut-target stall-source stall-target restart-source restart-target"
  [postgresql]="kill cut-source cut-target stall-source stall-target restart-source restart-target"
  [redis]="kill cut-source cut-target stall-source stall-target restart-target")
MPW=$(cat "$SECRETS/mariadb.password" 2>/dev/null || true)
PPW=$(cat "$SECRETS/postgresql.password" 2>/dev/null || true)
RPW=$(cat "$SECRETS/redis.password" 2>/dev/null || true)
my() { MYSQL_PWD=$MPW mariadb -h127.0.0.1 -P"$1" -umigrator -N -B "${@:2}"; }
pg() { PGPASSWORD=$PPW psql -h 127.0.0.1 -p "$1" -U migrator -Atq -v ON_ERROR_STOP=1 "${@:2}"; }
rc() { REDISCLI_AUTH=$RPW redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

prepare() {
  case $1 in
    mariadb)
      for p in 13306 13307; do my $p -e "DROP DATABASE IF EXISTS soak; CREATE DATABASE soak"; done
      my 13307 -e "DROP DATABASE IF EXISTS migrator" 2>/dev/null
      sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=13306 --mysql-user=migrator --mysql-password="$MPW" \
        --mysql-db=soak --tables=4 --table-size=100000 oltp_write_only prepare >/dev/null ;;
    postgresql)
      pg 15432 -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '%soak%' AND NOT active" >/dev/null
      for p in 15432 15433; do pg $p -d postgres -c "DROP DATABASE IF EXISTS soak WITH (FORCE)" -c "CREATE DATABASE soak"; done
      PGPASSWORD=$PPW pgbench -h 127.0.0.1 -p 15432 -U migrator -i -s 10 -q soak >/dev/null 2>&1
      pg 15432 -d postgres -c "ALTER SYSTEM SET logical_decoding_work_mem = '1MB'" -c "SELECT pg_reload_conf()" >/dev/null ;;
    redis)
      rc 16379 FLUSHALL >/dev/null; rc 16380 FLUSHALL >/dev/null
      REDISCLI_AUTH=$RPW redis-benchmark -h 127.0.0.1 -p 16379 -a "$RPW" -r 200000 -n 300000 -t set,incr,hset,sadd -q >/dev/null 2>&1 ;;
  esac
}

# one slice of the workload, at most a minute: sysbench 1.0 does not reconnect (a source restart ends its threads, and
# the process then waits out its --time), so the loop around it starts a new slice, each printing what it wrote
workload() {
  local left=$(( $2 < 60 ? $2 : 60 ))
  case $1 in
    # sysbench 1.0.20 can hang past its --time once a source restart ended its threads (the 14:16 soak's one slice wrote
    # nothing for 30 minutes): a slice that overruns is killed, and the next one starts
    mariadb) timeout -s KILL $(( left + 20 )) sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=13306 --mysql-user=migrator --mysql-password="$MPW" \
               --mysql-db=soak --tables=4 --table-size=100000 --threads=2 --rate=100 --time="$left" \
               --mysql-ignore-errors=all oltp_write_only run ;;
    postgresql) # pgbench, and once a slice one transaction updating 50,000 rows: with logical_decoding_work_mem at 1MB the
      # walsender streams it before its commit (protocol 2) and the target applies it as one transaction in 25 batches
      ( sleep $(( left / 2 )); PGPASSWORD=$PPW psql -h 127.0.0.1 -p 15432 -U migrator -d soak -X -c \
          "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 20 = $(( RANDOM % 20 ))" ) &
      PGPASSWORD=$PPW pgbench -h 127.0.0.1 -p 15432 -U migrator -n -c 2 -R 150 -T "$left" soak
      wait ;;
    redis)
      local a=(-h 127.0.0.1 -p 16379 -a "$RPW" -r 200000 -c 4 -q)
      redis-benchmark "${a[@]}" -n 20000 -t set,incr,hset,sadd
      redis-benchmark "${a[@]}" -n 2000 SETEX ttl:__rand_int__ 900 value-__rand_int__
      redis-benchmark "${a[@]}" -n 1000 DEL key:__rand_int__
      sleep 2 ;;
  esac
}

plan() {
  local e=$1 extra="" db="database: soak, user: migrator,"
  case $e in
    postgresql) extra='tables: {include: ["public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers"]}' ;;
    redis) db="" ;;
  esac
  cat <<PLAN
name: soak-$e
source: {engine: $e, host: 127.0.0.1, port: $((SPORT[$e] + 10000)), $db password: "\${file:$SECRETS/$e.password}"}
target: {engine: $e, host: 127.0.0.1, port: $((TPORT[$e] + 10000)), $db password: "\${file:$SECRETS/$e.password}"}
$extra
network: {readTimeout: 15s, stallTimeout: 10s, maxOutage: 10m}
control: {listen: "127.0.0.1:${LISTEN[$e]}"}
PLAN
}

compare() {
  case $1 in
    mariadb)
      local bad=0 t s d
      for t in sbtest1 sbtest2 sbtest3 sbtest4; do
        s=$(my 13306 -e "SELECT * FROM soak.$t ORDER BY id" | md5sum | cut -c1-32)
        d=$(my 13307 -e "SELECT * FROM soak.$t ORDER BY id" | md5sum | cut -c1-32)
        n=$(my 13306 -e "SELECT COUNT(*) FROM soak.$t")
        if [ "$s" = "$d" ]; then echo "equal  $t ($n rows, $s)"; else echo "DIFFER $t: source $s, target $d"; bad=1; fi
      done
      return $bad ;;
    postgresql) PGUSER=migrator PGPASSWORD=$PPW "$ROOT/bench/postgres-parity.sh" soak 15432 15433 public pgbench_history ;;
    redis) python3 "$ROOT/bench/redis-parity.py" "$RPW" 16379 16380 0 ;;
  esac
}

size() {
  case $1 in
    mariadb) my 13306 -e "SELECT (SELECT COUNT(*) FROM soak.sbtest1) + (SELECT COUNT(*) FROM soak.sbtest2) + (SELECT COUNT(*) FROM soak.sbtest3) + (SELECT COUNT(*) FROM soak.sbtest4)" | sed 's/$/ rows/' ;;
    postgresql) pg 15432 -d soak -c "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_tellers) + (SELECT count(*) FROM pgbench_branches)" | sed 's/$/ rows/' ;;
    redis) rc 16379 DBSIZE | sed 's/$/ keys/' ;;
  esac
}

server_pid() { # server_pid NAME: the pid `sandbox status` reports for a running sandbox server
  "$ROOT/migrator" sandbox status -o json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin).get("servers", []):
    if s.get("name") == sys.argv[1] and s.get("pid"): print(s["pid"])' "$1"
}

restart_server() { # restart_server ENGINE source|target: stop it as an operator's restart would, then start it again
  local name="$1-$2" pid
  pid=$(server_pid "$name")
  [ -n "$pid" ] || return 0
  case $1 in postgresql) kill -INT "$pid" ;; *) kill -TERM "$pid" ;; esac
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  sleep 2
  sandbox_up "$1"
}

start_worker() { # start_worker ENGINE: the worker in the background, appending to its log
  local e=$1
  "$ROOT/migrator" run "$WORK/soak-$e.yaml" >> "$WORK/worker-$e.log" 2>&1 &
  echo $! > "$WORK/worker-$e.pid"
}

# the fault loop of one engine, until the file STOP exists; it also starts again a worker that exited by itself
faults() {
  local e=$1 next now pick fault list
  read -r -a list <<< "${FAULTS[$e]}"
  start_worker "$e" # a child of this loop, which kills it, waits for it and starts it again
  next=$(( $(date +%s) + 3 + RANDOM % 8 )) # the first fault inside the copy
  local first=1
  while [ ! -f "$WORK/STOP" ]; do
    sleep 1
    local wpid; wpid=$(cat "$WORK/worker-$e.pid")
    if ! kill -0 "$wpid" 2>/dev/null; then
      wait "$wpid" 2>/dev/null
      echo "$(date +%T) $e worker-exited (not killed by the soak): $(grep -a '^error:' "$WORK/worker-$e.log" | tail -n 1 | cut -c1-160) -> started again" >> "$WORK/faults.log"
      start_worker "$e"
      continue
    fi
    now=$(date +%s)
    [ "$now" -ge "$next" ] || continue
    if [ $first = 1 ]; then fault=kill; first=0; else pick=$(( RANDOM % ${#list[@]} )); fault=${list[$pick]}; fi
    echo "$(date +%T) $e $fault" >> "$WORK/faults.log"
    case $fault in
      kill) kill -9 "$wpid"; wait "$wpid" 2>/dev/null; sleep 1; start_worker "$e" ;;
      cut-source) kill -USR1 "$(cat "$WORK/proxy-$e-source.pid")" ;;
      cut-target) kill -USR1 "$(cat "$WORK/proxy-$e-target.pid")" ;;
      stall-source) kill -USR2 "$(cat "$WORK/proxy-$e-source.pid")" ;;
      stall-target) kill -USR2 "$(cat "$WORK/proxy-$e-target.pid")" ;;
      restart-source) restart_server "$e" source ;;
      restart-target) restart_server "$e" target ;;
    esac
    next=$(( $(date +%s) + EVERY / 2 + RANDOM % (EVERY + 1) ))
  done
}

writers() { # the workload of one engine in a loop until END
  local e=$1 end=$2 left
  while [ ! -f "$WORK/STOP" ]; do
    left=$(( end - $(date +%s) ))
    [ "$left" -gt 1 ] || break
    workload "$e" "$left" >> "$WORK/writer-$e.log" 2>&1 || sleep 1
  done
}

IFS=, read -r -a ENGS <<< "$ENGINES"
declare -A WRITER FAULTER
for e in "${ENGS[@]}"; do
  log "$e: preparing the source"
  prepare "$e" || { echo "$e: preparing the source failed" >&2; exit 1; }
  for side in source target; do
    if [ $side = source ]; then port=${SPORT[$e]}; else port=${TPORT[$e]}; fi
    STALL_SECONDS=20 python3 "$ROOT/bench/faultproxy.py" $((port + 10000)) 127.0.0.1 "$port" 2>> "$WORK/faults.log" &
    echo $! > "$WORK/proxy-$e-$side.pid"
  done
  plan "$e" > "$WORK/soak-$e.yaml"
done
sleep 1
END=$(( $(date +%s) + MINUTES * 60 ))
for e in "${ENGS[@]}"; do
  writers "$e" "$END" & WRITER[$e]=$!
  faults "$e" & FAULTER[$e]=$!
  log "$e: worker, $(echo "${FAULTS[$e]}" | wc -w) kinds of fault every ~${EVERY}s, workload until $(date -d @"$END" +%T)"
done

while [ "$(date +%s)" -lt "$END" ]; do sleep 5; done
touch "$WORK/STOP"
log "writers and faults stop"
for e in "${ENGS[@]}"; do wait "${FAULTER[$e]}" 2>/dev/null; done
# a workload client stuck reconnecting after a restart would hold the end: the writers are stopped, not waited for
pkill -f "sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=13306" 2>/dev/null
pkill -f "pgbench -h 127.0.0.1 -p 15432" 2>/dev/null
pkill -f "redis-benchmark -h 127.0.0.1 -p 16379" 2>/dev/null
for e in "${ENGS[@]}"; do wait "${WRITER[$e]}" 2>/dev/null; done
sandbox_up "$ENGINES" # a restart the soak began ends with the server running

declare -A CONVERGE PARITY
for e in "${ENGS[@]}"; do
  wpid=$(cat "$WORK/worker-$e.pid")
  kill -0 "$wpid" 2>/dev/null || start_worker "$e"
done
for e in "${ENGS[@]}"; do
  t0=$(now); PARITY[$e]=DIFFERENT
  "$ROOT/migrator" wait "$WORK/soak-$e.yaml" --for "lag<2s" --timeout 600s >/dev/null 2>&1
  for attempt in 1 2 3 4 5 6; do  # the stream applies what the source committed last; equal once it is all there
    sleep 5
    if compare "$e" > "$WORK/parity-$e.txt" 2>&1; then PARITY[$e]=equal; break; fi
  done
  CONVERGE[$e]=$(secs "$t0" "$(now)")
  log "$e: ${PARITY[$e]} ($(tail -1 "$WORK/parity-$e.txt"))"
done

for e in "${ENGS[@]}"; do
  wpid=$(cat "$WORK/worker-$e.pid"); kill -TERM "$wpid" 2>/dev/null
  for _ in $(seq 1 300); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
  kill "$(cat "$WORK/proxy-$e-source.pid")" "$(cat "$WORK/proxy-$e-target.pid")" 2>/dev/null
done
pg 15432 -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '%soak%' AND NOT active" >/dev/null 2>&1
pg 15432 -d postgres -c "ALTER SYSTEM RESET logical_decoding_work_mem" -c "SELECT pg_reload_conf()" >/dev/null 2>&1

{
  echo "Soak — $MINUTES min, a fault every ~${EVERY}s per engine, engines side by side on $(nproc) cores; $(date -u +%FT%TZ)"
  echo
  printf '| %-10s | %-66s | %-13s | %-9s | %-22s | %-9s | %s |\n' engine "faults (count)" "worker stops" "converged" "source at the end" parity "written (completed slices)"
  printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ "$(printf -- '-%.0s' {1..68})" --------------- ----------- ------------------------ ----------- ----
  for e in "${ENGS[@]}"; do
    counts=$(awk -v e="$e" '$2 == e && $3 != "worker-exited" {print $3}' "$WORK/faults.log" | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}' | sed 's/, $//')
    exits=$(awk -v e="$e" '$2 == e && $3 == "worker-exited"' "$WORK/faults.log" | grep -o 'error: migration [^:]*: [a-z ]*' | sed 's/error: migration [^:]*: //' | sort | uniq -c | awk '{n=$1; $1=""; printf "%d:%s; ", n, $0}')
    [ -n "$exits" ] || exits=0
    case $e in
      mariadb) writes="$(grep -a 'transactions:' "$WORK/writer-$e.log" | awk '{s+=$2} END {print s+0}') sysbench transactions in $(grep -a -c 'transactions:' "$WORK/writer-$e.log") of $(grep -a -c 'Threads started' "$WORK/writer-$e.log") slices (an overrun slice is killed uncounted)" ;;
      postgresql) writes="$(grep -a 'actually processed' "$WORK/writer-$e.log" | awk -F': ' '{split($2,a,"/"); s+=a[1]} END {print s+0}') pgbench transactions, $(grep -a -c '^UPDATE 50000' "$WORK/writer-$e.log") of 50,000 rows" ;;
      redis) writes="$(grep -a -c 'requests per second' "$WORK/writer-$e.log") redis-benchmark runs" ;;
    esac
    printf '| %-10s | %-66s | %-13s | %-9s | %-22s | %-9s | %s |\n' "$e" "$counts" "$exits" "${CONVERGE[$e]} s" "$(size "$e")" "${PARITY[$e]}" "$writes"
  done
  echo
  echo "Parity by an independent comparison after the writers stopped (parity-ENGINE.txt); fault log: faults.log; worker logs: worker-ENGINE.log"
} | tee "$WORK/report.txt"
for e in "${ENGS[@]}"; do [ "${PARITY[$e]}" = equal ] || exit 1; done
