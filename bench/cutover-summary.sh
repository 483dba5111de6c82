#!/usr/bin/env bash
# The summary line of a cutover benchmark table (bench/cutover-benchmark.sh): medians and worst cases over the rounds;
# with --rollback, of a round-trip table (cutover, load on the new server, rollback): the rollback's columns.
#   bench/cutover-summary.sh TABLE.md [--rollback]
if [ "${2:-}" = --rollback ]; then
  awk -F'|' 'NR > 2 && $5 ~ /^ *[0-9]+ *$/ { n++; g[n] = $6 + 0; f[n] = $5 + 0; if ($6 + 0 > gw) gw = $6 + 0; if ($5 + 0 > fw) fw = $5 + 0 }
    NR > 2 { lost += $8 + 0 } NR > 2 && $5 !~ /^ *[0-9]+ *$/ { bad++ }
    function median(a, n) { asort(a); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { printf "\nrollback probe write gap: median %d ms, worst %d ms; rollback writeFreezeMillis: median %d ms, worst %d ms; over %d round trips (%d without a rollback); acknowledged writes lost: %d\n",
          median(g, n), gw, median(f, n), fw, n, bad, lost }' "$1"
  exit 0
fi
awk -F'|' 'NR > 2 && $3 ~ /^ *[0-9]+ *$/ { n++; g[n] = $4 + 0; f[n] = $3 + 0; if ($4 + 0 > worst) worst = $4 + 0; if ($3 + 0 > fworst) fworst = $3 + 0; lost += $6 + 0 }
  NR > 2 && $3 !~ /^ *[0-9]+ *$/ { aborted++ }
  function median(a, n) { asort(a); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END { printf "\nprobe write gap: median %d ms, worst %d ms; writeFreezeMillis: median %d ms, worst %d ms; over %d cutovers (%d aborted); acknowledged writes lost: %d\n",
        median(g, n), worst, median(f, n), fworst, n, aborted, lost }' "$1"
