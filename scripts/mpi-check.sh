#!/usr/bin/env bash
# The same spikes and recorded states on 1–4 MPI ranks × 1–2 threads (issue 24): runs one
# network file (the microcircuit at 5% scale, 100 ms, with a V monitor, a synaptic-current
# monitor and a dense spike monitor) as one process, then under `mpirun -np N ... --threads T`,
# and compares every output file byte for byte.
# Usage: scripts/mpi-check.sh [path/to/somata built with --features mpi]
set -euo pipefail
S=${1:-target/release/somata}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$S" microcircuit --scale 0.05 --duration-ms 100 > "$W/mc.toml"
cat >> "$W/mc.toml" <<'TOML'

[[monitor]]
name = "v"
population = "L4E"
var = "V"
neurons = [1000, 3, 0, 500, 1095, 17]

[[monitor]]
name = "i_inh"
population = "L23E"
var = "I@L23I→L23E"
every = 5

[[monitor]]
name = "l5i_dense"
population = "L5I"
format = "both"
TOML
"$S" run "$W/mc.toml" --out "$W/ref" > /dev/null
MPIRUN=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
fail=0
for np in 1 2 3 4; do
  for t in 1 2; do
    rm -rf "$W/out"
    "${MPIRUN[@]}" -np "$np" "$S" run "$W/mc.toml" --out "$W/out" --threads "$t" > "$W/log" 2>&1 || { cat "$W/log"; exit 1; }
    n=0
    for f in "$W"/ref/*.npy; do
      n=$((n + 1))
      cmp -s "$f" "$W/out/$(basename "$f")" || { echo "np=$np threads=$t: $(basename "$f") differs"; fail=1; }
    done
    echo "np=$np threads=$t: $n files identical to one process ($(grep -o 'exchange: .*' "$W/log" || echo 'no exchange'))"
  done
done
exit $fail
