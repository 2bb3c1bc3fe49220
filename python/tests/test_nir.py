"""somata.nir: graphs built with the `nir` package, run against the documented discretisation
(python/somata/nir.py) computed in numpy; export and re-import."""

import numpy as np
import pytest

nir = pytest.importorskip("nir")

import somata  # noqa: E402
import somata.nir as snir  # noqa: E402
from somata import nn  # noqa: E402

# The documented discretisation: time constants in s → ms (×1000); each step integrates
# τ v̇ = (v_leak − v) + R I exactly for I held over the step: v ← v∞ + (v − v∞)·e^{−dt/τ},
# v∞ = v_leak + R I; a spike when v ≥ v_threshold after the step; the next step starts from
# v_reset. IF is v̇ = R I (per second). CubaLIF: τ_syn İ = −I + w_in·x, then the LIF of tau_mem
# driven by the new I. Every state starts at 0 (the LIF layer's V_initializer; NIR fixes none).


def _io(n_in, n_out):
    return nir.Input(input_type={"input": np.array([n_in])}), nir.Output(output_type={"output": np.array([n_out])})


def _graph(*nodes):
    """A chain Input → nodes → Output, named n0, n1, ..."""
    names = [f"n{k}" for k in range(len(nodes))]
    return nir.NIRGraph(nodes=dict(zip(names, nodes)), edges=list(zip(names[:-1], names[1:])))


class LIFRef:
    def __init__(self, tau_s, r, v_leak, v_th, v_reset, dt):
        self.a = np.exp(-dt / (np.asarray(tau_s) * 1e3))
        self.r, self.vl, self.vth, self.vr = r, v_leak, v_th, v_reset
        self.v = None
        self.s = None
        self.margin = np.inf

    def __call__(self, I):
        if self.v is None:
            self.v = np.zeros_like(I)
            self.s = np.zeros_like(I)
        v0 = np.where(self.s > 0, self.vr, self.v)
        vinf = self.vl + self.r * I
        self.v = vinf + (v0 - vinf) * self.a
        self.s = (self.v >= self.vth).astype(np.float64)
        self.margin = min(self.margin, float(np.abs(self.v - self.vth).min()))
        return self.s


class LIRef:
    def __init__(self, tau_s, r, v_leak, dt):
        self.a = np.exp(-dt / (np.asarray(tau_s) * 1e3))
        self.r, self.vl = r, v_leak
        self.v = None

    def __call__(self, I):
        if self.v is None:
            self.v = np.zeros_like(I)
        vinf = self.vl + self.r * I
        self.v = vinf + (self.v - vinf) * self.a
        return self.v


def _run(fns, x):
    """x [B, T, n] through fns step by step → [T, B, n_out]."""
    out = []
    for t in range(x.shape[1]):
        h = x[:, t].astype(np.float64)
        for f in fns:
            h = f(h)
        out.append(h.copy())
    return np.array(out)


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _main_graph(rng):
    n_in, n_h, n_out = 3, 5, 2
    p = dict(
        W1=rng.normal(size=(n_h, n_in)) * 1.5,
        b1=rng.normal(size=n_h) * 0.3 + 1.0,
        tau=np.array([0.002, 0.004, 0.005, 0.008, 0.01]),
        r=np.array([1.0, 1.5, 0.8, 2.0, 1.2]),
        vl=np.array([0.0, 0.1, -0.1, 0.05, 0.0]),
        vth=np.array([1.0, 0.8, 1.2, 1.0, 0.9]),
        vr=np.array([0.0, -0.1, 0.2, 0.0, -0.3]),
        W2=rng.normal(size=(n_out, n_h)),
        tau2=np.full(n_out, 0.004),
        r2=np.array([2.0, 0.5]),
        vl2=np.array([0.3, -0.2]),
    )
    i, o = _io(n_in, n_out)
    g = _graph(i, nir.Affine(weight=p["W1"], bias=p["b1"]),
               nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["vl"], v_threshold=p["vth"], v_reset=p["vr"]),
               nir.Linear(weight=p["W2"]), nir.LI(tau=p["tau2"], r=p["r2"], v_leak=p["vl2"]), o)
    return g, p


def test_affine_lif_linear_li(rng):
    g, p = _main_graph(rng)
    dt = 0.5
    seq = snir.from_nir(g, dt=dt)
    assert isinstance(seq, nn.Sequential)
    assert seq.n_in == 3 and seq.n_out == 2 and seq.dt == dt
    lif = seq.layers[1]
    assert lif.model == "LIF" and lif.spk_reset == "hard"
    np.testing.assert_allclose(lif.tau, p["tau"] * 1e3)
    x = rng.uniform(0, 1, size=(4, 60, 3))
    y = seq.forward(x.astype(np.float32))
    assert y.shape == (60, 4, 2)
    lif_ref = LIFRef(p["tau"], p["r"], p["vl"], p["vth"], p["vr"], dt)
    want = _run([lambda h: h @ p["W1"].T + p["b1"], lif_ref, lambda s: s @ p["W2"].T,
                 LIRef(p["tau2"], p["r2"], p["vl2"], dt)], x)
    assert lif_ref.margin > 1e-4
    np.testing.assert_allclose(y, want, atol=1e-5, rtol=1e-5)
    assert np.ptp(want) > 0.5


def test_affine_lif_spikes(rng):
    _, p = _main_graph(rng)
    i, o = _io(3, 5)
    g = _graph(i, nir.Affine(weight=p["W1"], bias=p["b1"]),
               nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["vl"], v_threshold=p["vth"], v_reset=p["vr"]), o)
    seq = snir.from_nir(g, dt=0.25)
    x = rng.uniform(0, 1.5, size=(3, 120, 3))
    y = seq.forward(x.astype(np.float32))
    ref = LIFRef(p["tau"], p["r"], p["vl"], p["vth"], p["vr"], 0.25)
    want = _run([lambda h: h @ p["W1"].T + p["b1"], ref], x)
    assert ref.margin > 1e-4
    assert want.sum() > 50 and sum(want[:, :, k].sum() > 0 for k in range(5)) >= 3
    np.testing.assert_array_equal(y, want)


def test_cubalif(rng):
    n_in, n = 3, 4
    W = rng.normal(size=(n, n_in))
    b = np.abs(rng.normal(size=n))
    ts = np.full(n, 0.003)
    tm = np.array([0.005, 0.01, 0.008, 0.004])
    r = np.array([1.0, 2.0, 1.5, 1.0])
    vl = np.array([0.0, 0.05, 0.0, -0.05])
    vth = np.array([0.5, 1.0, 0.8, 0.6])
    vr = np.zeros(n)
    w_in = np.array([1.0, 2.0, 0.5, 1.5])
    i, o = _io(n_in, n)
    g = _graph(i, nir.Affine(weight=W, bias=b),
               nir.CubaLIF(tau_syn=ts, tau_mem=tm, r=r, v_leak=vl, v_threshold=vth, v_reset=vr, w_in=w_in), o)
    dt = 1.0
    seq = snir.from_nir(g, dt=dt)
    x = rng.uniform(0, 1, size=(2, 80, n_in))
    y = seq.forward(x.astype(np.float32))
    syn = LIRef(ts, w_in, 0.0, dt)  # τ_syn İ = −I + w_in·x: an LI with r = w_in
    lif = LIFRef(tm, r, vl, vth, vr, dt)
    want = _run([lambda h: h @ W.T + b, syn, lif], x)
    assert lif.margin > 1e-4 and want.sum() > 20
    np.testing.assert_array_equal(y, want)


def test_if(rng):
    n_in, n = 3, 4
    W = rng.normal(size=(n, n_in))
    b = np.abs(rng.normal(size=n))
    r = np.array([100.0, 200.0, 150.0, 50.0])
    vth = np.array([1.0, 1.5, 0.7, 1.0])
    vr = np.array([0.0, 0.1, -0.2, 0.0])
    i, o = _io(n_in, n)
    g = _graph(i, nir.Affine(weight=W, bias=b), nir.IF(r=r, v_threshold=vth, v_reset=vr), o)
    dt = 1.0
    seq = snir.from_nir(g, dt=dt)
    x = rng.uniform(0, 1, size=(2, 60, n_in))
    y = seq.forward(x.astype(np.float32))
    state = {"v": np.zeros((2, n)), "s": np.zeros((2, n)), "m": np.inf}

    def integrate(I):  # v̇ = r·I per second: dt ms adds dt·1e-3·r·I
        v0 = np.where(state["s"] > 0, vr, state["v"])
        state["v"] = v0 + dt * 1e-3 * r * I
        state["s"] = (state["v"] >= vth).astype(np.float64)
        state["m"] = min(state["m"], float(np.abs(state["v"] - vth).min()))
        return state["s"]

    want = _run([lambda h: h @ W.T + b, integrate], x)
    assert state["m"] > 1e-4 and want.sum() > 10
    np.testing.assert_array_equal(y, want)


def test_scale(rng):
    n_in, n = 3, 4
    sc = np.array([2.0, -1.0, 0.5])
    W = rng.normal(size=(n, n_in))
    b = rng.normal(size=n)
    sc2 = np.array([1.0, 3.0, -2.0, 0.5])
    i, o = _io(n_in, n)
    g = _graph(i, nir.Scale(scale=sc), nir.Affine(weight=W, bias=b), nir.Scale(scale=sc2),
               nir.LI(tau=np.full(n, 0.004), r=np.ones(n), v_leak=np.zeros(n)), o)
    dt = 1.0
    seq = snir.from_nir(g, dt=dt)
    x = rng.uniform(-1, 1, size=(3, 40, n_in))
    y = seq.forward(x.astype(np.float32))
    want = _run([lambda h: ((h * sc) @ W.T + b) * sc2, LIRef(np.full(n, 0.004), 1.0, 0.0, dt)], x)
    np.testing.assert_allclose(y, want, atol=1e-5, rtol=1e-5)
    # a Scale alone (before the Output): a diagonal linear map
    i, o = _io(n_in, n_in)
    y = snir.from_nir(_graph(i, nir.Scale(scale=sc), o)).forward(x.astype(np.float32))
    np.testing.assert_allclose(y, np.transpose(x * sc, (1, 0, 2)), rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# export


def _same(a, b, x):
    pa, pb = a.parameters(), b.parameters()
    assert pa.keys() == pb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


def _neuron_params(layer):
    return {k: np.asarray(getattr(layer, k)) for k in ("tau", "R", "V_rest", "V_th", "V_reset")}


def test_round_trip_in_memory(rng):
    g, _ = _main_graph(rng)
    seq = snir.from_nir(g, dt=0.5)
    g2 = snir.to_nir(seq)
    assert isinstance(g2, nir.NIRGraph)
    kinds = [type(n).__name__ for n in g2.nodes.values()]
    assert kinds.count("LIF") == 1 and kinds.count("LI") == 1 and "Input" in kinds and "Output" in kinds
    seq2 = snir.from_nir(g2, dt=0.5)
    x = rng.uniform(0, 1, size=(3, 40, 3)).astype(np.float32)
    _same(seq, seq2, x)
    for k, v in _neuron_params(seq.layers[1]).items():
        np.testing.assert_array_equal(_neuron_params(seq2.layers[1])[k], v, err_msg=k)
    # the exported LIF's parameters are the graph's
    lif = next(n for n in g2.nodes.values() if isinstance(n, nir.LIF))
    gl = g.nodes["n2"]
    for name in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        np.testing.assert_allclose(np.asarray(getattr(lif, name), float), np.asarray(getattr(gl, name), float), rtol=1e-7)


def test_round_trip_file(tmp_path, rng):
    seq = nn.Sequential([nn.Linear(3, 6, seed=4), somata.LIF(6, tau="4 ms", V_th=0.7, V_reset=-0.1, spk_reset="hard"),
                         nn.Linear(6, 4, bias=False, weight=np.abs(np.random.default_rng(1).normal(size=(6, 4)))),
                         somata.IF(4, spk_reset="hard", tau="7 ms", V_th=0.2, R=3.0),
                         nn.LI(4, 2, tau=3.0, seed=6)], dt=0.5)
    path = tmp_path / "net.nir"
    snir.write(str(path), seq)
    g = nir.read(str(path))
    assert float(g.metadata["dt_ms"]) == 0.5
    back = snir.read(str(path), dt=0.5)
    x = rng.uniform(0, 3, size=(2, 50, 3)).astype(np.float32)
    _same(seq, back, x)
    assert seq.forward(x).std() > 0.05  # the spikes reach the output
    for name, v in _neuron_params(seq.layers[1]).items():
        np.testing.assert_allclose(_neuron_params(back.layers[1])[name], v, rtol=1e-12, err_msg=name)
    # brainpy.state's IF (τ v̇ = −v + R I, hard reset to 0) comes back as the LIF it is
    lif = back.layers[3]
    assert lif.model == "LIF" and lif.spk_reset == "hard"
    assert (lif.tau, lif.R, lif.V_th, lif.V_rest, lif.V_reset) == pytest.approx((7.0, 3.0, 0.2, 0.0, 0.0))


def test_round_trip_cubalif_and_if(rng):
    """CubaLIF imports as Linear → LI(diag w_in) → LIF and exports as Affine, Affine + LI, LIF:
    re-imported, the two Affines fold into the LI (one layer fewer, the same function); from
    then on the round trip is exact."""
    n = 4
    i, o = _io(3, n)
    g = _graph(i, nir.Affine(weight=rng.normal(size=(n, 3)), bias=np.ones(n)),
               nir.CubaLIF(tau_syn=np.full(n, 0.002), tau_mem=np.full(n, 0.005), r=np.ones(n), v_leak=np.zeros(n),
                           v_threshold=np.full(n, 0.5), v_reset=np.zeros(n), w_in=np.array([1.0, 2.0, 0.5, 1.0])),
               nir.Linear(weight=np.abs(rng.normal(size=(n, n)))),
               nir.IF(r=np.full(n, 300.0), v_threshold=np.ones(n), v_reset=np.zeros(n)), o)
    seq = snir.from_nir(g, dt=1.0)
    assert "linear(3→4) membrane(4→4) LIF(4→4) linear(4→4) LIF(4→4)" in seq.describe()
    g2 = snir.to_nir(seq)
    assert any(isinstance(v, nir.IF) for v in g2.nodes.values())
    once = snir.from_nir(g2, dt=1.0)
    x = rng.uniform(0, 1, size=(2, 40, 3)).astype(np.float32)
    y = seq.forward(x)
    assert y.sum() > 5
    np.testing.assert_array_equal(once.forward(x), y)
    _same(once, snir.from_nir(snir.to_nir(once), dt=1.0), x)


def test_round_trip_linear_before_li_keeps_layers(rng):
    seq = nn.Sequential([nn.Linear(3, 6, seed=4), somata.LIF(6, tau="4 ms", V_th=0.7, spk_reset="hard"),
                         nn.Linear(6, 4, seed=5), nn.LI(4, 2, tau=3.0, seed=6)], dt=0.5)
    x = rng.uniform(0, 3, size=(2, 50, 3)).astype(np.float32)
    _same(seq, snir.from_nir(snir.to_nir(seq), dt=0.5), x)


def test_readout_export_round_trip(rng):
    seq = nn.Sequential([nn.Linear(3, 5, seed=1), somata.LIF(5, spk_reset="hard"), nn.Readout(5, 2, tau=5.0, seed=2)], dt=0.1)
    x = rng.uniform(0, 3, size=(2, 60, 3)).astype(np.float32)
    y = seq.forward(x)
    back = snir.from_nir(snir.to_nir(seq), dt=0.1)
    np.testing.assert_allclose(back.forward(x), y, rtol=1e-5, atol=1e-6)


def test_readout_is_brainpy_leaky_rate_readout():
    """brainpy-state.md §10: LeakyRateReadout(2 → 1, W = 1) at dt 0.1 ms, tau 5 ms, input [1, 1]:
    2.0, 3.9603972, 5.8819761 (r ← e^{−dt/τ}·r + x W)."""
    seq = nn.Sequential([nn.Readout(2, 1, tau=5.0, weight=np.ones((2, 1)))], dt=0.1)
    y = seq.forward(np.ones((1, 2), np.float32), steps=3).ravel()
    np.testing.assert_allclose(y, [2.0, 3.9603972, 5.8819761], rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# refused


def test_soft_reset_export_refused():
    seq = nn.Sequential([nn.Linear(3, 4), somata.LIF(4, spk_reset="soft")], dt=1.0)
    with pytest.raises(ValueError, match="soft"):
        snir.to_nir(seq)
    with pytest.raises(ValueError, match="soft"):
        snir.to_nir(nn.Sequential([nn.Linear(3, 4), somata.LIF(4)], dt=1.0))  # LIF's default reset is soft


def test_unexportable_model_refused():
    seq = nn.Sequential([nn.Linear(3, 4), somata.ALIF(4, spk_reset="hard")], dt=1.0)
    with pytest.raises(ValueError, match="ALIF"):
        snir.to_nir(seq)


def test_unsupported_nodes_refused():
    i, o = _io(3, 3)
    with pytest.raises(ValueError, match="Threshold"):
        snir.from_nir(_graph(i, nir.Threshold(threshold=np.ones(3)), o))
    i, o = _io(3, 3)
    with pytest.raises(ValueError, match="Delay"):
        snir.from_nir(_graph(i, nir.Delay(delay=np.ones(3)), o))
    # an LI whose neurons have different taus
    i, o = _io(3, 3)
    with pytest.raises(ValueError, match="tau"):
        snir.from_nir(_graph(i, nir.LI(tau=np.array([0.001, 0.002, 0.003]), r=np.ones(3), v_leak=np.zeros(3)), o))
    # a branching graph
    i, o = _io(3, 3)
    nodes = {"in": i, "a": nir.Scale(scale=np.ones(3)), "b": nir.Scale(scale=np.ones(3)), "out": o}
    g = nir.NIRGraph(nodes=nodes, edges=[("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")], type_check=False)
    with pytest.raises(ValueError):
        snir.from_nir(g)


def test_forward_euler_import_reproduces_beta_stepping():
    """method="euler": the LIF and LI of a graph step as v ← β·v + (1 − β)·(v_leak + R·I) with
    β = 1 − dt/τ (snnTorch's and Norse's discretisation), exactly up to float32 rounding."""
    nir = pytest.importorskip("nir")
    rng = np.random.default_rng(7)
    n_in, n_h, n_out, dt = 3, 5, 2, 1.0  # dt in ms
    W1 = rng.normal(size=(n_h, n_in))
    W2 = rng.normal(size=(n_out, n_h))
    tau_h, tau_o = 0.004, 0.006  # s
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([n_in])}),
            "fc1": nir.Linear(weight=W1),
            "lif": nir.LIF(tau=np.full(n_h, tau_h), r=np.full(n_h, 1.5), v_leak=np.zeros(n_h),
                           v_threshold=np.ones(n_h), v_reset=np.zeros(n_h)),
            "fc2": nir.Linear(weight=W2),
            "li": nir.LI(tau=np.full(n_out, tau_o), r=np.ones(n_out), v_leak=np.zeros(n_out)),
            "out": nir.Output(output_type={"output": np.array([n_out])}),
        },
        edges=[("in", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "li"), ("li", "out")],
    )
    seq = somata.nir.from_nir(g, dt=dt, method="euler")
    x = (rng.random((2, 40, n_in)) * 2).astype(np.float32)
    y = seq.forward(x)
    bh, bo = 1 - dt / (tau_h * 1e3), 1 - dt / (tau_o * 1e3)
    for b in range(2):
        v, o, s_prev = np.zeros(n_h), np.zeros(n_out), np.zeros(n_h)
        for t in range(40):
            v = np.where(s_prev > 0, 0.0, v)
            v = bh * v + (1 - bh) * 1.5 * (W1 @ x[b, t])
            s = (v >= 1.0).astype(float)
            s_prev = s
            o = bo * o + (1 - bo) * (W2 @ s)
            np.testing.assert_allclose(y[t, b], o, atol=2e-5)
    with pytest.raises(ValueError, match="tau > dt"):
        somata.nir.from_nir(g, dt=10.0, method="euler")
