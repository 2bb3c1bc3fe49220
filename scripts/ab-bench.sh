#!/usr/bin/env bash
# A/B timing on a noisy machine: alternate two or more `somata` binaries on one benchmark,
# single thread, ROUNDS rounds of `--runs 5`, and print per binary the minimum of the rounds'
# minima and the median of their medians.
#
#   scripts/ab-bench.sh adex-4000 6 /tmp/somata-old target/release/somata
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 BENCH ROUNDS BINARY..." >&2
  exit 2
fi
bench=$1 rounds=$2
shift 2
declare -A mins meds
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    line=$(RAYON_NUM_THREADS=1 "$bin" bench "$bench" --runs 5 | tail -1)
    med=$(sed -E 's/.*: ([0-9.]+) ms \(min ([0-9.]+).*/\1/' <<<"$line")
    mn=$(sed -E 's/.*: ([0-9.]+) ms \(min ([0-9.]+).*/\2/' <<<"$line")
    mins[$bin]="${mins[$bin]:-} $mn"
    meds[$bin]="${meds[$bin]:-} $med"
  done
done
for bin in "$@"; do
  min=$(tr ' ' '\n' <<<"${mins[$bin]}" | grep . | sort -n | head -1)
  medmed=$(tr ' ' '\n' <<<"${meds[$bin]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$bench $bin: min $min ms, median of medians $medmed ms"
done
