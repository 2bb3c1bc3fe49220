#!/usr/bin/env python3
"""COBA (Brette et al. 2007, benchmark 1) in Brian2 and in somata, side by side.

The same network as `somata bench coba-4k` / `coba-40k` (somata::net::models::coba): LIF
neurons with a 5 ms refractory period (V_rest -60, V_th -50, V_reset -60 mV, tau 20 ms,
V0 ~ N(-55, 2) mV), constant drive 20 mV, exponential conductances in units of the leak
(tau 5 / 10 ms, E 0 / -80 mV, weights 0.6 / 6.7), p = 80 / N, dt 0.1 ms, 1 s.

Brian2 runs as C++ standalone (the fastest Brian2 mode) with OpenMP threads; the figure is the
time of the simulation loop alone (`device._last_run_time`), compilation and network
construction excluded, as somata's bench excludes construction. Brian2 is optional: without
it the script says so and runs somata alone.

    python3 scripts/brian2_side_by_side.py [--n 4000] [--threads 2] [--somata target/release/somata]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time


def run_brian2(n, threads):
    try:
        import brian2 as b2
    except ImportError:
        return None, "brian2 is not installed (pip install brian2)"
    from brian2 import ms, mV, second

    workdir = tempfile.mkdtemp(prefix="brian2_coba_")
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.defaultclock.dt = 0.1 * ms
    n_e = n * 4 // 5
    taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
    v_t, v_r, e_l = -50 * mV, -60 * mV, -60 * mV
    e_exc, e_inh, i_ext = 0 * mV, -80 * mV, 20 * mV
    eqs = """
    dv/dt = (ge*(e_exc - v) + gi*(e_inh - v) - (v - e_l) + i_ext) / taum : volt (unless refractory)
    dge/dt = -ge / taue : 1
    dgi/dt = -gi / taui : 1
    """
    ns = {"taum": taum, "taue": taue, "taui": taui, "e_exc": e_exc, "e_inh": e_inh, "e_l": e_l, "i_ext": i_ext}
    pop = b2.NeuronGroup(n, eqs, threshold="v > -50*mV", reset="v = -60*mV", refractory=5 * ms,
                         method="exponential_euler", namespace=ns)
    pop.v = "-55*mV + 2*mV*randn()"
    p = min(80.0 / n, 1.0)
    ce = b2.Synapses(pop[:n_e], pop, on_pre="ge += 0.6")
    ci = b2.Synapses(pop[n_e:], pop, on_pre="gi += 6.7")
    ce.connect(p=p)
    ci.connect(p=p)
    spikes = b2.SpikeMonitor(pop)
    net = b2.Network(pop, ce, ci, spikes)
    net.run(1 * second)
    t0 = time.perf_counter()
    b2.device.build(directory=workdir, compile=True, run=True)
    wall = time.perf_counter() - t0
    loop = getattr(b2.device, "_last_run_time", None)
    rate = spikes.num_spikes / n / 1.0
    secs = loop if loop else wall
    return secs * 1e3, f"Brian2 {b2.__version__} C++ standalone, {threads} OpenMP threads: {secs * 1e3:.1f} ms for 1 s ({'loop' if loop else 'build + run'}), {rate:.1f} Hz"


def run_somata(binary, n):
    name = {4000: "coba-4k", 40000: "coba-40k"}.get(n)
    if name is None:
        return None, f"somata bench has coba-4k and coba-40k; n = {n} is neither"
    if not os.path.exists(binary):
        return None, f"{binary} not found: cargo build --release -p somata-cli"
    out = subprocess.run([binary, "bench", name, "--runs", "5"], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    return float(lines[-1].split(": ")[1].split(" ms")[0]), lines[0] + "\n" + lines[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--somata", default="target/release/somata")
    a = ap.parse_args()
    s_ms, s_msg = run_somata(a.somata, a.n)
    print("somata:", s_msg)
    b_ms, b_msg = run_brian2(a.n, a.threads)
    print("brian2:", b_msg)
    if s_ms and b_ms:
        print(f"somata / brian2 = {s_ms / b_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
