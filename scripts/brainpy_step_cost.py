"""brainpy.state 2.9's cost of one `update` call from Python, beside somata's (BENCHMARKS.md,
issue 25): a LIF layer of 1 and of 4000 neurons stepped 2000 times from a Python loop,
(a) eagerly (`neu.update(x)`, what a notebook does) and (b) through a jitted step function
(`brainstate.transform.jit`), compilation excluded. Prints microseconds per call.

Usage (a Python >= 3.12 venv with `pip install brainpy==2.9.0`):

    python scripts/brainpy_step_cost.py [--steps 2000]
"""

import argparse
import time

import brainpy
import brainstate
import brainunit as u
import jax
import jax.numpy as jnp


def cost(n, steps, jit):
    brainstate.environ.set(dt=0.1 * u.ms)
    neu = brainpy.state.LIF(n)
    neu.init_state()
    x = jnp.full(n, 2.0, jnp.float32) * u.mA
    f = brainstate.transform.jit(lambda x: neu.update(x)) if jit else neu.update
    jax.block_until_ready(f(x))  # compile / warm up
    k = steps if jit else max(steps // 10, 50)
    t0 = time.perf_counter()
    for _ in range(k):
        s = f(x)
    jax.block_until_ready(s)
    return (time.perf_counter() - t0) / k * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    a = ap.parse_args()
    print(f"brainpy {brainpy.__version__}, jax {jax.__version__}")
    for n in (1, 4000):
        print(f"brainpy.state LIF({n}) update: eager {cost(n, a.steps, False):.1f} us per call, jitted step {cost(n, a.steps, True):.1f} us per call")


if __name__ == "__main__":
    main()
