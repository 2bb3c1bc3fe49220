#!/usr/bin/env python3
"""What the Python front end costs over the Rust engine (issue 25, BENCHMARKS.md).

Run from the repository root with the package installed (`pip install ./python`) and the CLI
built (`cargo build --release -p somata-cli`):

    python scripts/python_overhead.py [--rounds 5] [--cli target/release/somata]

Each workload is the same work through the Rust API (the CLI's `bench`, `run` and `train`, which
are thin drivers of it) and through the Python package, alternated round by round so that the
machine's drift hits both; the figure is the median of each side and their ratio.

* lif-4000 / hh-4000: 4000 neurons, 10,000 steps of 0.1 ms under a constant input spread over
  the neurons, spike counts kept (`somata bench lif-4000` against `layer.run(x, steps=10000,
  counts=True)`).
* coba: the COBA network file (4000 LIFRef, 1 s) run with its monitors (`somata run FILE`
  against `somata.Network.load(FILE).run()`); wall time of the simulation only.
* digits epoch: one training epoch of `somata train`'s network on the embedded digits
  (Linear 64→128, LIF τ = 5 ms, LeakyRateReadout, 20 steps, batch 64, Adam) against
  `somata.nn.Sequential(...).fit(..., epochs=1)` on the same 1437 samples.
* per-step `update`: the Python call's cost per step for 1 and 4000 LIF neurons, against the
  engine's own per-step time in `run`.
"""

import argparse
import gzip
import re
import statistics
import subprocess
import time

import numpy as np

import somata


def med(xs):
    return statistics.median(xs)


def cli_bench(cli, name, runs):
    out = subprocess.run([cli, "bench", name, "--runs", str(runs)], capture_output=True, text=True, check=True).stdout
    m = re.search(rf"{name}: ([0-9.]+) ms", out.strip().splitlines()[-1])
    return float(m.group(1))


def py_forward(model, scale, runs, seed=0):
    n = 4000
    x = scale * np.arange(n, dtype=np.float64) / n
    layer = somata.neuron(model, n, seed=seed)
    ts = []
    for _ in range(runs + 1):
        layer.init_state()
        t0 = time.perf_counter()
        layer.run(x, steps=10_000, counts=True)
        ts.append((time.perf_counter() - t0) * 1e3)
    return med(ts[1:])


def cli_coba(cli, path):
    out = subprocess.run([cli, "run", path], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"simulated [0-9.]+ ms in ([0-9.]+) ms", out).group(1))


def py_coba(path):
    net = somata.Network.load(path)
    t0 = time.perf_counter()
    net.run(progress=False)
    return (time.perf_counter() - t0) * 1e3


def cli_epoch(cli, epochs):
    out = subprocess.run([cli, "train", "--epochs", str(epochs)], capture_output=True, text=True, check=True).stdout
    return [float(x) for x in re.findall(r"([0-9.]+) ms/epoch", out)]


def digits():
    rows = [list(map(float, line.split(","))) for line in gzip.open("crates/somata/data/digits.csv.gz", "rt") if line.strip()]
    a = np.array(rows, dtype=np.float32)
    x, y = a[:, :64] / 16.0, a[:, 64].astype(np.int64)
    n_train = int(round(0.8 * len(x)))
    return x[:n_train], y[:n_train]


def py_epochs(x, y, epochs):
    net = somata.nn.Sequential(
        [somata.nn.Linear(64, 128, seed=0), somata.LIF(128, tau=5.0), somata.nn.Readout(128, 10, tau=5.0, seed=1)], dt=1.0
    )
    opt = somata.nn.Adam(5e-3)
    ts = []
    for e in range(epochs):
        t0 = time.perf_counter()
        net.fit(x, y, steps=20, epochs=1, batch_size=64, optimizer=opt, seed=e)
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts


def step_cost(n, steps=2000):
    layer = somata.LIF(n)
    x = np.full(n, 2.0)
    layer.init_state()
    t0 = time.perf_counter()
    for _ in range(steps):
        layer.update(x)
    per_update = (time.perf_counter() - t0) / steps * 1e6
    layer.init_state()
    t0 = time.perf_counter()
    layer.run(x, steps=steps, counts=True)
    per_run = (time.perf_counter() - t0) / steps * 1e6
    return per_update, per_run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cli", default="target/release/somata")
    ap.add_argument("--coba", default="crates/somata/examples/networks/coba.toml")
    a = ap.parse_args()
    print(f"somata {somata.__version__}, SIMD {somata.simd()}")
    for name, model, scale in (("lif-4000", "LIF", 3.0), ("hh-4000", "HH", 20.0e-3)):
        rs, ps = [], []
        for _ in range(a.rounds):
            rs.append(cli_bench(a.cli, name, 3))
            ps.append(py_forward(model, scale, 3, seed=7 if model == "HH" else 0))
        print(f"{name}: Rust {med(rs):.2f} ms, Python {med(ps):.2f} ms, ratio {med(ps) / med(rs):.3f}")
    rs, ps = [], []
    for _ in range(a.rounds):
        rs.append(cli_coba(a.cli, a.coba))
        ps.append(py_coba(a.coba))
    print(f"coba (1 s, file): Rust {med(rs):.1f} ms, Python {med(ps):.1f} ms, ratio {med(ps) / med(rs):.3f}")
    x, y = digits()
    rs, ps = [], []
    for _ in range(a.rounds):
        rs += cli_epoch(a.cli, 4)[1:]
        ps += py_epochs(x, y, 4)[1:]
    print(f"digits epoch: Rust {med(rs):.1f} ms, Python {med(ps):.1f} ms, ratio {med(ps) / med(rs):.3f}")
    for n in (1, 4000):
        u, r = step_cost(n)
        print(f"per-step update, {n} LIF: {u:.2f} us per call from Python; engine alone (run) {r:.3f} us per step; overhead {u - r:.2f} us")


if __name__ == "__main__":
    main()
