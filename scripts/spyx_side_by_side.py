"""Spyx 1.0 on the workload of `somata bench b-512` (and `b-4096` with `--n 4096`).

Workload: input x of shape [T=500, B=16, N] float32, standard Gaussian (fixed seed); network
Linear(N -> N, with bias) followed by N LIF neurons with beta = 0.9 (somata: tau = -1/ln 0.9 ms
at dt = 1 ms, R = 10, so v <- 0.9 v + I), threshold 1.0, soft (subtractive) reset and an
arctangent surrogate with alpha = 2, g(x) = 1/(1 + (pi x)^2). Loss = the sum of all output
spikes (an output gradient of ones). Timed: forward + backward to the Linear's parameters
(`jax.grad` w.r.t. the `nnx.Linear` state), jitted, compilation excluded by one warm-up call,
`jax.block_until_ready` on the gradients. Prints a line with versions, then

    spyx b-<N>: <median> ms (min <min> ms, <runs> runs)

Spyx 1.0 is built on Flax NNX (not dm-haiku): the Linear is `flax.nnx.Linear`, applied to the
whole [T, B, N] sequence at once (one [T*B, N] x [N, N] product, as somata does), and the LIF
layer is `spyx.nn.LIF` unrolled time-major by `spyx.nn.run` (a `jax.lax.scan`).

Differences of `spyx.nn.LIF` from somata's LIF (same cost per step, different trajectories):
  * spyx emits s_t = H(V_{t-1} - 1) from the membrane *before* the step, then
    V_t = beta V_{t-1} + I_t - s_t; somata emits s_t = H(V_t - 1) of the integrated membrane
    and applies the reset at the start of the next step, V_{t+1} = beta (V_t - s_t) + I_{t+1}.
    So spyx's output lags by one step and its reset is not decayed by beta.
  * spyx's Heaviside fires on x > 0, somata's on x >= 0.
  * `spyx.axn.arctan(k)` has the gradient 1/(pi (1 + (k pi x)^2)), which is somata's alpha = 2
    arctangent only up to a factor 1/pi (at k = 1); the exact somata surrogate is passed through
    `spyx.axn.custom` instead.
  * beta is an `nnx.Param` of the LIF layer (clipped to [0, 1]); it is not differentiated here.

Usage (CPU; Python 3.12 venv with spyx==1.0.0, jax, optax):

    /tmp/spyx/bin/python scripts/spyx_side_by_side.py --runs 5 [--n 512]
"""

import argparse
import statistics
import time

import flax
import jax
import jax.numpy as jnp
import spyx
from flax import nnx

T, B = 500, 16


def workload(n):
    rngs = nnx.Rngs(0)
    graphdef, params = nnx.split(nnx.Linear(n, n, rngs=rngs))
    arctan = spyx.axn.custom(lambda x: 1 / (1 + (jnp.pi * x) ** 2))
    lif = spyx.nn.LIF((n,), beta=0.9, threshold=1.0, activation=arctan, rngs=rngs)
    x = jax.random.normal(jax.random.key(4), (T, B, n), jnp.float32)

    def loss(params, x):
        spikes, _ = spyx.nn.run(lif, nnx.merge(graphdef, params)(x))
        return spikes.sum()

    return jax.jit(jax.grad(loss)), params, x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=512)
    args = ap.parse_args()
    print(f"spyx {spyx.__version__}, flax {flax.__version__}, jax {jax.__version__}, {jax.devices()[0].platform}")
    grad, params, x = workload(args.n)
    jax.block_until_ready(grad(params, x))  # compile
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        jax.block_until_ready(grad(params, x))
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"spyx b-{args.n}: {statistics.median(times):.2f} ms (min {min(times):.2f} ms, {args.runs} runs)")


if __name__ == "__main__":
    main()
