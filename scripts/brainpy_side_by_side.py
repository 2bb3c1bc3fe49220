"""brainpy.state 2.9 on the workloads of `somata bench lif-4000 | hh-4000 | adex-4000`.

Matched workload: one layer of 4000 neurons with BrainPy's default parameters, 10,000 steps at
dt = 0.1 ms in float32, a constant per-neuron input spread linearly from 0 (LIF 0..3 mA, HH
0..20 uA, AdExIF 0..20 mA: what `somata bench` feeds), spike counts only. The loop is one
`brainstate.transform.for_loop` under `jit` that accumulates the counts in a state (nothing is
stacked per step; XLA fuses the step); compilation is excluded (one warm-up call). Prints
one line per model in the form of `somata bench`:

    NAME: <median> ms (min <min> ms, <runs> runs)

Usage (a Python >= 3.12 venv with `pip install brainpy==2.9.0`):

    python scripts/brainpy_side_by_side.py [--runs 5] [--models lif,hh,adex]
"""

import argparse
import statistics
import time

import brainpy
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp

N, STEPS = 4000, 10_000
MODELS = {
    "lif": (lambda: brainpy.state.LIF(N), 3.0, u.mA),
    "hh": (lambda: brainpy.state.HH(N), 20.0, u.uA),
    "adex": (lambda: brainpy.state.AdExIF(N), 20.0, u.mA),
}


def workload(name):
    make, scale, unit = MODELS[name]
    brainstate.environ.set(dt=0.1 * u.ms)
    neu = make()
    x = (scale * jnp.arange(N, dtype=jnp.float32) / N) * unit

    count = brainstate.ShortTermState(jnp.zeros(N, jnp.float32))

    @brainstate.transform.jit
    def run():
        neu.init_state()
        count.value = jnp.zeros(N, jnp.float32)

        def step(i):
            with brainstate.environ.context(i=i, t=i * brainstate.environ.get_dt()):
                count.value = count.value + neu.update(x)

        brainstate.transform.for_loop(step, jnp.arange(STEPS))
        return count.value

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models", default="lif,hh,adex")
    args = ap.parse_args()
    print(f"brainpy {brainpy.__version__}, jax {jax.__version__}, {jax.devices()[0].platform}")
    for name in args.models.split(","):
        run = workload(name)
        counts = jax.block_until_ready(run())  # compile
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            jax.block_until_ready(run())
            times.append((time.perf_counter() - t0) * 1e3)
        total = float(jnp.sum(counts))
        bench = {"lif": "lif-4000", "hh": "hh-4000", "adex": "adex-4000"}[name]
        print(f"  {bench}: {total:.0f} spikes in all")
        print(f"brainpy.state {bench}: {statistics.median(times):.2f} ms (min {min(times):.2f} ms, {args.runs} runs)")


if __name__ == "__main__":
    main()
