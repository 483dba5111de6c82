# Shared by the benchmark scripts (bash): the project's paths and jar, tool checks, timing helpers.
# Source it after the options are parsed: . "$(dirname "$0")/common.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$ROOT/cli/target/migrator.jar"
[ -f "$JAR" ] || (cd "$ROOT" && mvn -B -q -DskipTests install)
# Workers timed by the benchmarks start as users start them, through ./migrator: the first `run` after a build records
# this class-data archive as it exits, later commands map those classes instead of loading them (about 1 s less
# start-up for a binlog or WAL stream). A script removes it before the run that should record it.
JSA="$ROOT/cli/target/migrator.jsa"
# the launcher rebuilds a jar older than the sources: do that now, not inside a timed run
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
