"""The COBA E/I network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1) written as
brainpy.state's example writes it, line by line, on somata's engine.

    python python/examples/ei_coba.py [--duration 1000]

4000 LIFRef neurons (3200 E, 800 I), conductance-based exponential synapses, 20 mA drive.
brainpy.state's ``brainstate.nn.EventFixedProb(n_pre, n_post, conn_num=0.02, conn_weight=w)`` is
``somata.state.EventFixedProb`` (each presynaptic neuron sends ``int(0.02 · 4000) = 80``
synapses); the weights are in units of the leak conductance 1/R = 1 S, as in
crates/somata/examples/networks/coba.toml. Prints the rates and writes nothing.
"""

import argparse
import time

import numpy as np

import somata

bp = somata.state


class EINet(bp.Module):
    def __init__(self):
        super().__init__()
        self.n_exc = 3200
        self.n_inh = 800
        self.num = self.n_exc + self.n_inh
        self.N = somata.LIFRef(
            self.num, V_rest="-60 mV", V_th="-50 mV", V_reset="-60 mV", tau="20 ms", tau_ref="5 ms",
            V_initializer=somata.init.Normal(-55.0, 2.0, unit="mV"),
        )
        self.E = bp.AlignPostProj(
            comm=bp.EventFixedProb(self.n_exc, self.num, conn_num=0.02, conn_weight="0.6 S"),
            syn=bp.Expon.desc(self.num, tau="5 ms"),
            out=bp.COBA.desc(E="0 mV"),
            post=self.N,
        )
        self.I = bp.AlignPostProj(
            comm=bp.EventFixedProb(self.n_inh, self.num, conn_num=0.02, conn_weight="6.7 S"),
            syn=bp.Expon.desc(self.num, tau="10 ms"),
            out=bp.COBA.desc(E="-80 mV"),
            post=self.N,
        )

    def update(self, t, inp):
        with somata.environ.context(t=t):
            spk = self.N.get_spike() != 0.0
            self.E(spk[: self.n_exc])
            self.I(spk[self.n_exc :])
            self.N(inp)
            return self.N.get_spike()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=1000.0, help="ms")
    a = ap.parse_args()
    somata.environ.set(dt=0.1)
    net = EINet()
    bp.init_all_states(net)
    times = np.arange(0.0, a.duration, somata.environ.get_dt())
    t0 = time.perf_counter()
    spikes = bp.for_loop(lambda t: net.update(t, "20 mA"), times)
    wall = time.perf_counter() - t0
    dur_s = a.duration / 1e3
    print(f"E: {spikes[:, :3200].sum() / 3200 / dur_s:.2f} Hz, I: {spikes[:, 3200:].sum() / 800 / dur_s:.2f} Hz")
    print(f"simulated {a.duration:.0f} ms of 4000 neurons in {wall * 1e3:.0f} ms (trace, build and run)")


if __name__ == "__main__":
    main()
