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


def _lif(p, n, sg, reset):
    return somata.LIF(n, tau=(p["tau_ms"], "ms"), V_th=(p["V_th_mV"], "mV"), R=(p["R_ohm"], "ohm"),
                      V_rest=(p["V_rest_mV"], "mV"), V_reset=(p["V_reset_mV"], "mV"), spk_fun=sg, spk_reset=reset)


@pytest.mark.parametrize("case", range(6))
def test_two_layer_network_matches_brainpy_net2_lif(case):
    """BrainPy's two-layer LIF network (net2_lif.json): spikes, V of both layers, the loss and
    every gradient, through somata.nn.Sequential's forward_all / backward(extra=...)."""
    d = golden("net2_lif.json.gz")
    p, res = d["params"], d["outputs"]["results"][case]
    W1, b1, W2, b2 = (np.asarray(p[k], dtype=np.float32) for k in ("W1", "b1", "W2", "b2"))
    sg = res["surrogate"].split("(")[0]
    net = somata.nn.Sequential(
        [
            somata.nn.Linear(10, 8, weight=W1, b=b1),
            _lif(p["layer1"], 8, sg, res["spk_reset"]),
            somata.nn.Linear(8, 3, weight=W2, b=b2),
            _lif(p["layer2"], 3, sg, res["spk_reset"]),
        ],
        dt=d["dt_ms"],
    )
    x = np.asarray(d["inputs"]["x"], dtype=np.float32)  # [T, B, 10]
    ys = net.forward_all(x.transpose(1, 0, 2))
    s1, s2 = ys[1], ys[3]
    np.testing.assert_array_equal(s1, np.asarray(res["spikes_layer1"], dtype=np.float32))
    np.testing.assert_array_equal(s2, np.asarray(res["spikes_layer2"], dtype=np.float32))
    st = net.states()
    for k, key in ((1, "V_layer1_mV"), (3, "V_layer2_mV")):
        want = np.asarray(res[key], dtype=np.float32)
        np.testing.assert_allclose(st[(k, "V")], want, atol=1e-3, rtol=1e-3)
    loss_w = np.asarray(d["inputs"]["loss_w"], dtype=np.float32)
    loss = float((s2 * loss_w).sum() + 0.1 * s1.sum())
    assert abs(loss - res["loss"]) <= 1e-5 + 1e-3 * abs(res["loss"])
    net.zero_grad()
    gx = net.backward(np.broadcast_to(loss_w, s2.shape), extra={1: np.full(s1.shape, 0.1, np.float32)})
    g = net.gradients()

    def close(got, want):
        want = np.asarray(want, dtype=np.float64)
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64).reshape(want.shape), want, atol=1e-5, rtol=1e-3)

    close(g["0.W"], res["grad_W1"])
    close(g["0.b"], res["grad_b1"])
    close(g["2.W"], res["grad_W2"])
    close(g["2.b"], res["grad_b2"])
    close(gx, res["grad_input"])


def test_poisson_input_onto_v_in_a_traced_module():
    """brainpy.state's PoissonInput(target=N.prefetch('V'), ...) called before N.update: each step
    V += count·w, then the LIF decays: the mean settles at rate·dt·count·w·d/(1 − d)."""
    somata.environ.set(dt=0.1)

    class Net(bp.Module):
        def __init__(self):
            self.N = somata.LIF(100, tau="10 ms", V_th="1e9 mV")
            self.inp = bp.PoissonInput(target=self.N.prefetch("V"), indices=None, num_input=500, freq="10 Hz", weight="0.2 mV")

        def update(self, t):
            self.inp()
            self.N()
            return self.N.V

    m = Net()
    bp.init_all_states(m)
    v = bp.for_loop(m.update, np.arange(30000))
    mean = v[5000:].mean()
    d = np.exp(-0.1 / 10.0)
    want = 10e-3 * 0.1 * 500 * 0.2 * d / (1 - d)
    assert abs(mean / want - 1) < 0.02, (mean, want)
    with pytest.raises(TypeError, match="prefetch"):
        bp.PoissonInput(target=m.N, indices=None, num_input=1, freq=1.0, weight=1.0)
    with pytest.raises(ValueError, match="no state"):
        m.N.prefetch("w")
