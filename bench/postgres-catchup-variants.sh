#!/usr/bin/env bash
# The same PostgreSQL catch-up backlog applied again and again, once per variant of migrator's JVM options: compares
# variants on identical work in one sitting (bench/postgres-benchmark.sh writes a new backlog, and copies again, per run).
# The migration's slot and checkpoint are saved after the backlog is written and put back before each variant; every
# variant then decodes and applies the same WAL (full row images: applying them again leaves the same rows).
#
#   bench/postgres-catchup-variants.sh [--txns 1000000] [--mode hot|uniform] [--repeat 1] -- "OPTIONS A" "OPTIONS B" ...
#   ("" is the launcher's defaults; each variant runs --repeat times, interleaved with the others; a variant that begins
#   with "@DIR " runs DIR/migrator, another build, with the options after it: e.g. "@/work/dbz " a worktree of the commit
#   before the Debezium stream was removed, to put the two streams side by side on one backlog)
#   --keep leaves the saved slot and checkpoint for a later --reuse (the slot holds the backlog's WAL on the source until
#   a run without --keep ends: check pg_replication_slots), --reuse applies that saved backlog again (--txns and --mode are
#   then the saved ones)
# Needs the sandbox's PostgreSQL pair with the pgbench database `bench` (bench/postgres-benchmark.sh prepares it). The
# target is used as it is configured (bench/postgres-benchmark.sh --target-buffers explains its buffer pool's size).
set -euo pipefail
TXNS=1000000 MODE=hot REPEAT=1 KEEP=0 REUSE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --txns) TXNS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --reuse) REUSE=1; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || set -- ""

. "$(dirname "$0")/common.sh"
export PGPASSWORD=$(cat "$ROOT/.sandbox/secrets/postgresql.password")
WORK="$ROOT/target/bench-variants"
mkdir -p "$WORK"
SRC="postgres://migrator@127.0.0.1:15432"
TGT="postgres://migrator@127.0.0.1:15433"
src() { psql "$SRC/${DB:-bench}" -Atq -v ON_ERROR_STOP=1 "$@"; }
tgt() { psql "$TGT/${DB:-bench}" -Atq -v ON_ERROR_STOP=1 "$@"; }
threads() { for t in /proc/"$1"/task/*; do printf '%s\t' "$(cat "$t/comm")"; cat "$t/stat" | sed 's/.*) //'; done 2>/dev/null \
  | awk -F'\t' -v hz="$(getconf CLK_TCK)" '{ split($2, f, " "); name = $1; sub(/-?[0-9]+$/, "", name); s[name] += (f[12] + f[13]) / hz }
      END { for (n in s) if (s[n] >= 0.1) printf "%.1f\t%s\n", s[n], n }' | sort -nr | head -5 | awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' /proc/"$1"/stat; }
tree_cpu() { { cat /proc/"$1"/stat $(for c in $(pgrep -P "$1"); do echo /proc/"$c"/stat; done) 2>/dev/null || true; } \
  | awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 + $16 + $17 } END { printf "%.1f", t / hz }'; }
# until_reached URL SQL GOAL PID: asks every 0.2 s, in one psql session, until SQL's LSN reaches GOAL (a new psql each time
# costs the client and the server about 35 ms of CPU, taken from the run being timed); fails if PID ends first
until_reached() {
  local v=0 pid in out
  coproc POLL { psql "$1" -Atq -v ON_ERROR_STOP=1; }
  pid=$POLL_PID in=${POLL[1]} out=${POLL[0]}
  while kill -0 "$4" 2>/dev/null && { echo "$2;" >&"$in"; } 2>/dev/null && read -r v <&"$out" && [ "$v" -lt "$3" ]; do sleep 0.2; done
  eval "exec $in>&- $out<&-"
  wait "$pid" 2>/dev/null || true
  [ "${v:-0}" -ge "$3" ] 2>/dev/null
}
SRC_PM=$(head -1 "$ROOT/.sandbox/postgresql-source/data/postmaster.pid")

PLAN="$WORK/pg-variants.yaml"
cat >"$PLAN" <<EOF
name: bench-variants
source: {engine: postgresql, host: 127.0.0.1, port: 15432, user: migrator, password: "\${env:PGPASSWORD}", database: bench, tls: prefer}
target: {engine: postgresql, host: 127.0.0.1, port: 15433, user: migrator, password: "\${env:PGPASSWORD}", database: bench, tls: prefer}
tables: {include: ["public.pgbench_accounts"]}
snapshot: {parallelism: 2, chunkRows: 500000}
EOF
export MIGRATOR_STATE_DIR="$WORK/state"
if [ "$REUSE" = 1 ] && [ -f "$WORK/saved.env" ] && [ "$(src -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'bench_variants_saved'")" = 1 ]; then
  . "$WORK/saved.env"
  log "applying the saved backlog again ($TXNS transactions, $MODE)"
else
  rm -rf "$WORK/state"
  DB=postgres tgt -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench"
  DB=postgres src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'bench' AND NOT active" >/dev/null
  log "copy, until streaming"
  "$ROOT/migrator" run "$PLAN" --listen 127.0.0.1:0 >"$WORK/copy.log" 2>&1 &
  PID=$!
  java -jar "$JAR" wait "$PLAN" --for STREAMING --timeout 10m -q >/dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true
  SLOT=$(src -c "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'migrator_bench_variants%'")
  if [ "$MODE" = uniform ]; then RANGE="100000 * $(src -c "SELECT count(*) FROM pgbench_branches")"; else RANGE=100; fi
  printf '\\set aid random(1, %s)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n' "$RANGE" >"$WORK/update.sql"
  log "writing a backlog of $TXNS single-row update transactions ($MODE)"
  pgbench -n -c 4 -j 2 -t $((TXNS / 4)) -f "$WORK/update.sql" "$SRC/bench" >/dev/null 2>&1
  GOAL=$(src -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
  until [ "$(src -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ]; do sleep 0.2; done
  src -c "SELECT pg_copy_logical_replication_slot('$SLOT', 'bench_variants_saved')" >/dev/null
  tgt -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" -c "DROP TABLE IF EXISTS public.bench_saved_checkpoint" -c "CREATE TABLE public.bench_saved_checkpoint AS SELECT * FROM migrator.checkpoint"
  printf 'SLOT=%s\nGOAL=%s\nTXNS=%s\nMODE=%s\n' "$SLOT" "$GOAL" "$TXNS" "$MODE" >"$WORK/saved.env"
fi
REACHED="SELECT COALESCE((SELECT GREATEST((position::json->>'lsn_commit')::bigint, (position::json->>'lsn_proc')::bigint) \
  FROM migrator.checkpoint WHERE migration = 'bench-variants'), 0)"

printf '\n## Catch-up variants: %s single-row update transactions (%s), %s\n\n| run | JVM options | seconds | JVM CPU s | source CPU s | busiest threads (CPU s) | walsender segments (bytes each) |\n|---|---|---|---|---|---|---|\n' \
  "$TXNS" "$MODE" "$(date -u '+%F %H:%M')"
run=0
for r in $(seq 1 "$REPEAT"); do
  for opts in "$@"; do
    run=$((run + 1))
    until [ "$(src -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ]; do sleep 0.2; done
    src -c "SELECT pg_drop_replication_slot('$SLOT')" -c "SELECT pg_copy_logical_replication_slot('bench_variants_saved', '$SLOT')" >/dev/null
    tgt -c "DELETE FROM migrator.checkpoint" -c "INSERT INTO migrator.checkpoint SELECT * FROM public.bench_saved_checkpoint"
    # every variant starts alike: no dirty page of the one before left to write, the table and its index in the pool
    tgt -c "CHECKPOINT" -c "SELECT pg_prewarm('pgbench_accounts') + pg_prewarm('pgbench_accounts_pkey')" >/dev/null
    t0=$(now) s0=$(tree_cpu "$SRC_PM")
    launcher="$ROOT/migrator" jvm="$opts"
    case "$opts" in @*) launcher="${opts%% *}"; launcher="${launcher#@}/migrator"; jvm="${opts#* }"; [ "$jvm" != "$opts" ] || jvm="" ;; esac
    JAVA_OPTS="-Xmx512m $jvm" "$launcher" run "$PLAN" --listen 127.0.0.1:0 >"$WORK/run-$run.log" 2>&1 &
    PID=$!
    until_reached "$TGT/bench" "$REACHED" "$GOAL" "$PID" || { tail "$WORK/run-$run.log"; exit 1; }
    t=$(secs "$t0" "$(now)")
    # how the walsender's messages went out: TCP segments with data and bytes per segment (each message goes out in a
    # segment of its own while the connection has room; ss, read before the walsender ends)
    ws=$(src -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$SLOT'" || true)
    calls=$(ss -tinpH "( sport = :15432 )" 2>/dev/null | grep -A1 "pid=$ws," | tail -1 \
      | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] } } END { if (v["data_segs_out"] > 0) printf "%d (%d B)", v["data_segs_out"], v["bytes_sent"] / v["data_segs_out"]; else printf "?" }' || true)
    printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$run" "${opts:-(defaults)}" "$t" "$(cpu "$PID")" "$(secs "$s0" "$(tree_cpu "$SRC_PM")")" "$(threads "$PID")" "$calls"
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
done
if [ "$KEEP" = 1 ]; then
  log "the saved backlog stays for --reuse: slot bench_variants_saved holds $(src -c "SELECT pg_size_pretty(pg_current_wal_lsn() - restart_lsn) FROM pg_replication_slots WHERE slot_name = 'bench_variants_saved'") of the source's WAL until a run without --keep ends"
else
  src -c "SELECT pg_drop_replication_slot('bench_variants_saved')" >/dev/null
  rm -f "$WORK/saved.env"
  java -jar "$JAR" complete "$PLAN" -q >/dev/null
fi
