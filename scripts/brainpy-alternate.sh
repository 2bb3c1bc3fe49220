#!/usr/bin/env bash
# Side by side with brainpy.state 2.9, alternating the systems: ROUNDS rounds, each running
# `somata bench lif-4000 | hh-4000 | adex-4000` (--runs RUNS) and then
# scripts/brainpy_side_by_side.py (--runs RUNS) on the same workloads; prints per system and
# benchmark the median of the rounds' medians, and somata's lead.
#
#   scripts/brainpy-alternate.sh PYTHON [ROUNDS] [RUNS] [BINARY]
#   (PYTHON: a Python >= 3.12 with brainpy==2.9.0; defaults 3 5 target/release/somata)
set -euo pipefail
py=$1 rounds=${2:-3} runs=${3:-5} bin=${4:-target/release/somata}
dir=$(dirname "$0")
declare -A meds
for _ in $(seq "$rounds"); do
  for b in lif-4000 hh-4000 adex-4000; do
    line=$("$bin" bench "$b" --runs "$runs" | tail -1)
    meds[somata/$b]="${meds[somata/$b]:-} $(sed -E 's/.*: ([0-9.]+) ms \(min.*/\1/' <<<"$line")"
  done
  while read -r line; do
    b=$(sed -E 's/^brainpy.state ([a-z0-9-]+):.*/\1/' <<<"$line")
    meds[brainpy/$b]="${meds[brainpy/$b]:-} $(sed -E 's/.*: ([0-9.]+) ms \(min.*/\1/' <<<"$line")"
  done < <("$py" "$dir/brainpy_side_by_side.py" --runs "$runs" 2>/dev/null | grep '^brainpy.state ')
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "somata: $("$bin" info | grep '^simd:')"
lif=$(median "${meds[somata/lif-4000]}")
for b in lif-4000 hh-4000 adex-4000; do
  s=$(median "${meds[somata/$b]}") p=$(median "${meds[brainpy/$b]}")
  awk -v b="$b" -v s="$s" -v p="$p" -v l="$lif" 'BEGIN {printf "%s: somata %.2f ms (%.1fx lif-4000), brainpy.state %.2f ms: somata %.2fx faster\n", b, s, s / l, p, p / s}'
done
