#!/bin/bash
# Independent PostgreSQL parity check (no migrator code): for every ordinary or partitioned table of the schema in the
# source database, its row count and an md5 over the md5 of every row's text (sorted), computed by psql on both servers.
#
#   PGPASSWORD=... bench/postgres-parity.sh DATABASE [SOURCE_PORT 15432] [TARGET_PORT 15433] [SCHEMA public] [EXCLUDE_TABLE ...]
#
# Exit 0 when every table is equal on both sides, 1 otherwise. Both sessions print values the same way (same DateStyle,
# TimeZone UTC), so timestamptz and friends compare as values.
set -u
db=$1; sport=${2:-15432}; tport=${3:-15433}; schema=${4:-public}; shift $(( $# < 4 ? $# : 4 ))
export PGTZ=UTC PGDATESTYLE=ISO
q() { psql -h 127.0.0.1 -p "$1" -U "${PGUSER:-migrator}" -d "$db" -Atq -v ON_ERROR_STOP=1 -c "$2"; }
bad=0
tables=$(q "$sport" "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = '$schema' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1")
while IFS= read -r t; do
  [ -z "$t" ] && continue
  for x in "$@"; do [ "$x" = "$t" ] && continue 2; done
  sql="SELECT count(*) || ' ' || coalesce(md5(string_agg(h, '' ORDER BY h)), '-') FROM (SELECT md5(x::text) h
       FROM \"$schema\".\"${t//\"/\"\"}\" x) r"
  s=$(q "$sport" "$sql"); d=$(q "$tport" "$sql" 2>&1)
  if [ "$s" = "$d" ]; then echo "equal  $t ($s)"; else echo "DIFFER $t: source $s, target $d"; bad=1; fi
done <<< "$tables"
exit $bad
