#!/usr/bin/env bash
# The summary line of a cutover benchmark table (bench/cutover-benchmark.sh): medians and worst cases over the rounds.
#   bench/cutover-summary.sh TABLE.md
awk -F'|' 'NR > 2 && $3 ~ /^ *[0-9]+ *$/ { n++; g[n] = $4 + 0; f[n] = $3 + 0; if ($4 + 0 > worst) worst = $4 + 0; if ($3 + 0 > fworst) fworst = $3 + 0; lost += $6 + 0 }
  NR > 2 && $3 !~ /^ *[0-9]+ *$/ { aborted++ }
  function median(a, n) { asort(a); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END { printf "\nprobe write gap: median %d ms, worst %d ms; writeFreezeMillis: median %d ms, worst %d ms; over %d cutovers (%d aborted); acknowledged writes lost: %d\n",
        median(g, n), worst, median(f, n), fworst, n, aborted, lost }' "$1"
