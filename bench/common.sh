# Shared by the benchmark scripts (bash): the project's paths and jar, tool checks, timing helpers.
# Source it after the options are parsed: . "$(dirname "$0")/common.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$ROOT/cli/target/migrator.jar"
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests install)
# Workers timed by the benchmarks start as users start them, through ./migrator. The launcher rebuilds a jar older than
# the sources and then makes its class-data archive (once per build): this first command does both outside any timed run.
"$ROOT/migrator" --version >/dev/null

# require "how to install them" TOOL...: stop with the install hint when a tool is missing
require() {
  local hint=$1; shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool: $hint" >&2; exit 1; }
  done
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "[$(date +%T)] $*" >&2; }
# logged FILE REGEX PID: waits for the first line of a worker's log matching REGEX and prints the time the worker logged it
# (epoch seconds). Reading the worker's own clock from its log costs the timed run nothing: a psql poll every 0.1 s
# cost the servers and the client about 35 ms of CPU each time, taken from the two cores the timed run uses.
logged() {
  local line
  until line=$(grep -m1 -E "$2" "$1" 2>/dev/null); do
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  awk -v t="$(date -d "$(date +%F) ${line%% *}" +%s.%N)" -v n="$(now)" 'BEGIN { if (t > n + 1) t -= 86400; printf "%.3f", t }'
}

# A round trip's second half (bench/cutover-benchmark*.sh --rollback), PLAN WORK ROUND: 3 s of load on the new server
# while reverse replication carries it back, then `migrator rollback` under the same load, the probe's mark file touched
# just before it (the probe measures the rollback's gap apart), and the wait until the migration streams forward again.
rollback_round() {
  sleep 3
  "$ROOT/migrator" wait "$1" --for "lag<2s" --timeout 120s >/dev/null || true
  log "round $3: rollback under load"
  touch "$2/mark"
  "$ROOT/migrator" rollback "$1" -o json > "$2/rollback-$3.json" || true
  "$ROOT/migrator" wait "$1" --for STREAMING --timeout 120s >/dev/null || true
}
# freeze_millis REPORT.json: a cutover's or rollback's writeFreezeMillis, or why there is none
freeze_millis() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["writeFreezeMillis"] if r.get("ok") else "aborted: " + (r.get("error") or {}).get("code", "?"))' "$1" 2>/dev/null || echo "no report"
}
