#!/usr/bin/env bash
# The SIMD bars of issue 22 on this machine: lif-4000, hh-4000, adex-4000 and lif-bptt on every
# back end the CPU has (SOMATA_SIMD=...), alternating back ends in ROUNDS rounds of `--runs K`;
# prints per back end the median of the rounds' medians and the ratios to lif-4000.
#
#   scripts/simd-bench.sh [ROUNDS] [RUNS] [BINARY]     (defaults: 3 5 target/release/somata)
set -euo pipefail
rounds=${1:-3} runs=${2:-5} bin=${3:-target/release/somata}
backends=$("$bin" info | sed -n 's/^simd available: //p' | tr -d ',')
benches="lif-4000 hh-4000 adex-4000 lif-bptt"
grep -o -m1 'model name.*' /proc/cpuinfo || true
echo "back ends: $backends"
declare -A meds
for _ in $(seq "$rounds"); do
  for b in $backends; do
    for bench in $benches; do
      line=$(SOMATA_SIMD=$b "$bin" bench "$bench" --runs "$runs" | tail -1)
      med=$(sed -E 's/.*: ([0-9.]+) ms \(min.*/\1/' <<<"$line")
      meds[$b/$bench]="${meds[$b/$bench]:-} $med"
    done
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for b in $backends; do
  lif=$(median "${meds[$b/lif-4000]}")
  line="$b:"
  for bench in $benches; do
    m=$(median "${meds[$b/$bench]}")
    line="$line $bench $m ms ($(awk -v a="$m" -v l="$lif" 'BEGIN {printf "%.1fx", a / l}'));"
  done
  echo "$line"
done
