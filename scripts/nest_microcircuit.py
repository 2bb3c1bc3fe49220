"""NEST 3.10 on the same cortical microcircuit as `somata bench microcircuit` (BENCHMARKS.md).

A venv with `pip install nest-simulator numpy`:

    python scripts/nest_microcircuit.py [--scale 1.0] [--threads 2] [--t-sim 1000]

The network is the one `somata microcircuit --scale S` writes, built the way NEST's own example
(pynest/examples/Potjans_2014) builds it: `iaf_psc_exp` neurons (C_m 250 pF, τ_m 10 ms,
τ_syn 0.5 ms, t_ref 2 ms, E_L = V_reset = −65 mV, V_th = −50 mV), V0 from the "optimized"
normals, `fixed_total_number` connections with `redraw`-normal weights (87.81 pA, ×−4 from
inhibitory sources, ×2 L4E→L2/3E, 10% sd) and delays (1.5 ± 0.75 ms / 0.75 ± 0.375 ms, ≥ dt),
Poisson background (8 Hz × K_ext, weight 87.81 pA, delay 1.5 ms), and the in-degree scaling's
weight and DC adjustment. The parameters come from `somata microcircuit`'s output (one source).

Prints construction time, simulation time, real-time factor, per-population rates (1 s,
including the initial transient, as `somata bench microcircuit`) and the peak memory, in the
same form as the somata bench.
"""

import argparse
import re
import resource
import subprocess
import time

import nest
import numpy as np

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def q(s, unit):
    """A "<number> <unit>" string of the file as a float (the units used are fixed)."""
    v, u = s.split()
    assert u == unit, (s, unit)
    return float(v)


def parse(text):
    """The populations, projections and inputs of a `somata microcircuit` file (its fixed layout)."""
    blocks = re.split(r"\n\[\[(population|projection|input|monitor)\]\]\n", text)
    pops, projs, inputs = [], [], []
    for kind, body in zip(blocks[1::2], blocks[2::2]):
        if kind == "population":
            size = int(re.search(r"size = (\d+)", body).group(1))
            m, sd = re.search(r'normal = \["([^"]+)", "([^"]+)"\]', body).groups()
            pops.append((size, q(m, "mV"), q(sd, "mV")))
        elif kind == "projection":
            pre = re.search(r'pre = "(\w+)"', body).group(1)
            post = re.search(r'post = "(\w+)"', body).group(1)
            count = int(re.search(r"count = (\d+)", body).group(1))
            wm, ws = re.search(r'weight = \{ normal = \["([^"]+)", "([^"]+)"\]', body).groups()
            dm, ds = re.search(r'delays = \{ normal = \["([^"]+)", "([^"]+)"\]', body).groups()
            projs.append((POPS.index(pre), POPS.index(post), count, q(wm, "pS"), q(ws, "pS"), q(dm, "ms"), q(ds, "ms")))
        elif kind == "input":
            target = POPS.index(re.search(r'target = "(\w+)"', body).group(1))
            if "poisson" in body:
                count = int(re.search(r"count = (\d+)", body).group(1))
                w = q(re.search(r'weight = "([^"]+)"', body).group(1), "pA")
                inputs.append(("poisson", target, count, w))
            else:
                inputs.append(("dc", target, q(re.search(r'value = "([^"]+)"', body).group(1), "pA")))
    return pops, projs, inputs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--t-sim", type=float, default=1000.0)
    ap.add_argument("--somata", default="target/release/somata")
    a = ap.parse_args()
    text = subprocess.run([a.somata, "microcircuit", "--scale", str(a.scale)], capture_output=True, text=True, check=True).stdout
    pops, projs, inputs = parse(text)

    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": a.threads, "rng_seed": 55, "print_time": False})
    t0 = time.perf_counter()
    neurons = []
    params = {"C_m": 250.0, "tau_m": 10.0, "tau_syn_ex": 0.5, "tau_syn_in": 0.5, "t_ref": 2.0,
              "E_L": -65.0, "V_reset": -65.0, "V_th": -50.0}
    for size, m, sd in pops:
        p = nest.Create("iaf_psc_exp", size, params=params)
        p.V_m = nest.random.normal(mean=m, std=sd)
        neurons.append(p)
    for pre, post, count, wm, ws, dm, ds in projs:
        w = nest.math.redraw(nest.random.normal(mean=wm, std=ws), min=0.0 if wm >= 0 else -np.inf, max=np.inf if wm >= 0 else 0.0)
        d = nest.math.redraw(nest.random.normal(mean=dm, std=ds), min=0.1, max=np.inf)
        nest.Connect(neurons[pre], neurons[post], {"rule": "fixed_total_number", "N": count},
                     {"synapse_model": "static_synapse", "weight": w, "delay": d})
    for inp in inputs:
        if inp[0] == "poisson":
            _, t, count, w = inp
            pg = nest.Create("poisson_generator", params={"rate": 8.0 * count})
            nest.Connect(pg, neurons[t], "all_to_all", {"weight": w, "delay": 1.5})
        else:
            _, t, amp = inp
            neurons[t].I_e = amp
    recorders = []
    for p in neurons:
        sr = nest.Create("spike_recorder")
        nest.Connect(p, sr)
        recorders.append(sr)
    nest.Prepare()
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Run(a.t_sim)
    sim = time.perf_counter() - t1
    nest.Cleanup()
    n_syn = nest.GetKernelStatus("num_connections")
    rates = [sr.n_events / len(p) / (a.t_sim / 1e3) for sr, p in zip(recorders, neurons)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"NEST {nest.__version__}, {a.threads} threads: scale {a.scale}: {sum(len(p) for p in neurons)} neurons, {n_syn} connections; "
          f"construction {build:.2f} s; simulation {sim:.2f} s for {a.t_sim / 1e3} s: real-time factor {sim / (a.t_sim / 1e3):.2f}")
    print("rates: " + ", ".join(f"{n} {r:.2f} Hz" for n, r in zip(POPS, rates)))
    print(f"peak memory: {peak / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
