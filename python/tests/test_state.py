"""somata.state: BrainPy-shaped network modules traced into the engine (ported line by line)."""

import gzip
import json
import pathlib

import numpy as np
import pytest

import somata

bp = somata.state
DATA = pathlib.Path(__file__).resolve().parents[2] / "crates" / "somata" / "tests" / "data" / "brainpy-2.9.0"


def golden(name):
    with gzip.open(DATA / name, "rt") as f:
        return json.load(f)


class EINet(bp.Module):
    """BrainPy 2.9's ei_net golden case, written as its brainpy.state script."""

    def __init__(self, p):
        super().__init__()
        nrn = p["neuron"]
        self.n_exc = p["n_exc"]
        self.N = somata.LIFRef(
            p["n_exc"] + p["n_inh"],
            V_rest=nrn["V_rest_mV"],
            V_th=nrn["V_th_mV"],
            V_reset=nrn["V_reset_mV"],
            tau=nrn["tau_ms"],
            tau_ref=nrn["tau_ref_ms"],
            R=nrn["R_ohm"],
            spk_reset=nrn["spk_reset"],
            V_initializer=np.asarray(p["V_init"]["value"]),
        )
        n = self.N.num
        self.E = bp.AlignPostProj(
            comm=bp.Linear(p["n_exc"], n, w_init=(np.asarray(p["W_E"]["value"]), "S")),
            syn=bp.Expon.desc(n, tau=(p["syn_E"]["tau_ms"], "ms")),
            out=bp.COBA.desc(E=(p["syn_E"]["E_mV"], "mV")),
            post=self.N,
        )
        self.I = bp.AlignPostProj(
            comm=bp.Linear(p["n_inh"], n, w_init=(np.asarray(p["W_I"]["value"]), "S")),
            syn=bp.Expon.desc(n, tau=(p["syn_I"]["tau_ms"], "ms")),
            out=bp.COBA.desc(E=(p["syn_I"]["E_mV"], "mV")),
            post=self.N,
        )

    def update(self, t, x):
        with somata.environ.context(t=t):
            spk = self.N.get_spike() != 0.0
            self.E(spk[: self.n_exc])
            self.I(spk[self.n_exc :])
            self.N(x)
            return self.N.get_spike(), self.N.V


def test_ei_net_golden_through_a_traced_module():
    g = golden("ei_net.json.gz")
    somata.environ.set(dt=g["dt_ms"])
    net = EINet(g["params"])
    bp.init_all_states(net)
    steps = g["inputs"]["steps"]
    times = np.arange(steps) * g["dt_ms"]
    x = np.asarray(g["inputs"]["I_ext"]["value"], dtype=np.float64)
    spikes, V = bp.for_loop(lambda t, i: net.update(t, i), times, x)
    want_s = np.asarray(g["outputs"]["spike"], dtype=np.float32)
    want_v = np.asarray(g["outputs"]["V"]["value"], dtype=np.float32)
    assert spikes.shape == want_s.shape == (steps, 20)
    assert want_s.sum() > 0, "the golden has spikes"
    np.testing.assert_array_equal(spikes, want_s)
    np.testing.assert_allclose(V, want_v, rtol=0, atol=1e-3)


def test_per_step_argument_arithmetic_and_continuation():
    somata.environ.set(dt=0.1)

    class One(bp.Module):
        def __init__(self):
            self.N = somata.LIF(3, tau=10.0, V_th=1.0)

        def update(self, x):
            self.N(x * 2.0)
            return self.N.V

    m = One()
    bp.init_all_states(m)
    x = np.linspace(0.0, 3.0, 50)
    v = bp.for_loop(m.update, x)
    ref = somata.LIF(3, tau=10.0, V_th=1.0)
    ref.init_state()
    _, st = ref.run(np.repeat((2.0 * x)[:, None], 3, axis=1), record=["V"])
    np.testing.assert_array_equal(v, st["V"])


def test_constant_input_continues_like_one_long_run():
    somata.environ.set(dt=0.1)

    class One(bp.Module):
        def __init__(self):
            self.N = somata.LIF(4, tau=10.0, V_th=1.0, spk_reset="hard")

        def update(self, t):
            self.N(1.5)
            return self.N.get_spike()

    m = One()
    bp.init_all_states(m)
    a = bp.for_loop(m.update, np.arange(300))
    b = bp.for_loop(m.update, np.arange(200))
    bp.init_all_states(m)
    whole = bp.for_loop(m.update, np.arange(500))
    np.testing.assert_array_equal(np.concatenate([a, b]), whole)
    assert whole.sum() > 0


def test_untraceable_operations_are_refused():
    somata.environ.set(dt=0.1)

    class Bad(bp.Module):
        def __init__(self):
            self.N = somata.LIF(2)

        def update(self, t):
            if self.N.get_spike():
                pass
            self.N(1.0)
            return self.N.get_spike()

    with pytest.raises(TypeError, match="branch on spikes"):
        bp.for_loop(Bad().update, np.arange(3))


def test_projection_outside_a_trace_is_refused():
    n = somata.LIF(4)
    p = bp.AlignPostProj(comm=bp.AllToAll(4, 4, "1 mS"), syn=bp.Expon.desc(4, tau="5 ms"), out=bp.CUBA.desc(), post=n)
    with pytest.raises(TypeError, match="for_loop"):
        p(None)
