"""Neuron layers: LIF against its closed form, stepping, states, parameters, units, errors, every
model, surrogates and gradients that are analytic."""

import numpy as np
import pytest

import somata
from _support import Q

# ----------------------------------------------------------------------------------------------
# LIF closed form (spec §2.2): V_{n+1} = V + (1 − e^{−dt/τ})(V_rest + R I − V); spike when
# V ≥ V_th after the step; the reset is applied at the start of the next step: soft
# V ← V − (V_th − V_reset), hard V ← V_reset.


def lif_reference(x, tau, R, V_rest, V_th, V_reset, dt, reset, V0=0.0):
    """float64 LIF over inputs x [T, B, N]; returns V [T, B, N], spikes [T, B, N] and the
    smallest |V − V_th| seen (how far every spike decision is from a tie)."""
    T, B, N = x.shape
    c = 1.0 - np.exp(-dt / np.asarray(tau, dtype=np.float64))
    V = np.broadcast_to(np.asarray(V0, dtype=np.float64), (B, N)).copy()
    spk = np.zeros((B, N))
    Vs, Ss, margin = [], [], np.inf
    for t in range(T):
        if reset == "soft":
            V = V - (V_th - V_reset) * spk
        else:
            V = np.where(spk > 0, V_reset, V)
        V = V + c * (V_rest + R * x[t] - V)
        spk = (V >= V_th).astype(np.float64)
        margin = min(margin, float(np.abs(V - V_th).min()))
        Vs.append(V.copy())
        Ss.append(spk)
    return np.array(Vs), np.array(Ss), margin


LIF_P = dict(
    tau=np.array([4.0, 6.0, 8.0, 10.0, 15.0]),
    R=np.array([1.0, 1.5, 2.0, 0.8, 1.2]),
    V_rest=-0.1,
    V_th=1.0,
    V_reset=-0.3,
)


@pytest.fixture
def lif_inputs():
    rng = np.random.default_rng(2)
    return rng.uniform(0.0, 3.0, size=(300, 3, 5))  # [T, B, N], mA, one per element


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_lif_closed_form_batch_per_element(lif_inputs, reset):
    x = lif_inputs
    T, B, N = x.shape
    layer = somata.LIF(N, spk_reset=reset, **LIF_P)
    layer.init_state(B)
    spikes, states = layer.run(x, record="V")
    V_ref, S_ref, margin = lif_reference(x, dt=0.1, reset=reset, **LIF_P)
    assert margin > 1e-5, "the reference has a near-tie: pick another seed"
    assert spikes.shape == (T, B, N) and states["V"].shape == (T, B, N)
    assert states["V"].dtype == np.float32
    assert S_ref.sum() > 40  # the case really spikes, in every row
    assert all(S_ref[:, b].sum() > 5 for b in range(B))
    np.testing.assert_array_equal(spikes, S_ref.astype(np.uint8))
    np.testing.assert_allclose(states["V"], V_ref, atol=1e-5, rtol=0)
    # the final state is the last recorded one
    np.testing.assert_array_equal(layer.V, states["V"][-1])


def test_lif_closed_form_per_neuron_inputs_broadcast_over_batch(lif_inputs):
    x = lif_inputs[:, 0, :]  # [T, N]: one value per neuron, the same for every batch row
    B = 2
    layer = somata.LIF(5, spk_reset="hard", **LIF_P)
    layer.init_state(B)
    layer.V = np.array([0.0, 0.5, -0.2, 0.9, 0.1])  # per-neuron start, broadcast over rows
    spikes, states = layer.run(x, record=["V"])
    xb = np.broadcast_to(x[:, None, :], (x.shape[0], B, 5))
    V_ref, S_ref, margin = lif_reference(xb, dt=0.1, reset="hard", V0=[0.0, 0.5, -0.2, 0.9, 0.1], **LIF_P)
    assert margin > 1e-5
    np.testing.assert_array_equal(spikes, S_ref.astype(np.uint8))
    np.testing.assert_allclose(states["V"], V_ref, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(states["V"][:, 0], states["V"][:, 1])


def test_lif_constant_input_no_batch_and_other_dt():
    somata.environ.set(dt=0.25)
    layer = somata.LIF(3, tau="10 ms", V_th=-50.0, V_reset=-65.0, V_rest=-65.0, R=1.0,
                       V_initializer=somata.init.Constant(-65.0), spk_reset="hard")
    layer.init_state()
    assert layer.dt == 0.25
    spikes, st = layer.run(20.0, steps=400, record="V")
    assert spikes.shape == (400, 3)
    x = np.full((400, 1, 3), 20.0)
    V_ref, S_ref, _ = lif_reference(x, 10.0, 1.0, -65.0, -50.0, -65.0, 0.25, "hard", V0=-65.0)
    np.testing.assert_allclose(st["V"], V_ref[:, 0], atol=1e-4)
    np.testing.assert_array_equal(spikes, S_ref[:, 0])
    # the period of the closed form: first crossing of V_rest + RI(1 − e^{−t/τ}) ≥ V_th
    t_star = -10.0 * np.log(1 - 15.0 / 20.0)
    first = int(np.flatnonzero(spikes[:, 0])[0])
    assert (first + 1) * 0.25 == pytest.approx(np.ceil(t_star / 0.25) * 0.25)
    assert layer.t == pytest.approx(400 * 0.25)


def test_spec_reference_numbers_lif_alif():
    """brainpy-state.md §10 (BrainPy 2.9.0, float32, dt 0.1 ms, 2 mA)."""
    lif = somata.LIF(1)
    lif.init_state()
    s, st = lif.run(2.0, steps=36, record="V")
    V = st["V"].ravel()
    expect = [0.03960266, 0.07842113, 0.11647095, 0.15376732, 0.19032517, 0.22615913,
              0.26128352, 0.29571241, 0.32945958, 0.36253849, 0.3949624, 0.42674428]
    np.testing.assert_allclose(V[:12], expect, atol=3e-7)
    assert list(np.flatnonzero(s.ravel())) == [34]
    assert V[34] == pytest.approx(1.0068295, abs=1e-6)
    assert V[35] == pytest.approx(0.046296924, abs=1e-6)
    hard = somata.LIF(1, spk_reset="hard", V_reset=-0.5)
    hard.init_state()
    _, st = hard.run(2.0, steps=36, record="V")
    assert st["V"][35, 0] == pytest.approx(-0.45049667, abs=1e-6)
    iff = somata.IF(1, spk_reset="hard")
    iff.init_state()
    _, st = iff.run(2.0, steps=36, record="V")
    assert st["V"][35, 0] == pytest.approx(0.03960266, abs=1e-6)
    alif = somata.ALIF(1)
    alif.init_state()
    s, st = alif.run(2.0, steps=80, record="*")
    assert list(np.flatnonzero(s.ravel())) == [34, 74]
    assert st["a"][35, 0] == pytest.approx(0.99900049, abs=1e-6)
    assert st["V"][74, 0] == pytest.approx(1.1044109, abs=1e-5)
    assert st["a"][74, 0] == pytest.approx(0.96078938, abs=1e-6)


# ----------------------------------------------------------------------------------------------
# stepping


def test_update_step_by_step_equals_run_bitwise(lif_inputs):
    x = lif_inputs[:120]
    a = somata.LIF(5, spk_reset="soft", **LIF_P)
    b = somata.LIF(5, spk_reset="soft", **LIF_P)
    a.init_state(3)
    b.init_state(3)
    run_spikes, st = a.run(x, record="V")
    for t in range(x.shape[0]):
        s = b.update(x[t])
        assert s.dtype == np.float32 and s.shape == (3, 5)
        np.testing.assert_array_equal(s, run_spikes[t].astype(np.float32))
        np.testing.assert_array_equal(b.V, st["V"][t])
        np.testing.assert_array_equal(b.get_spike(), s)
    assert a.t == pytest.approx(b.t)
    assert b.t == pytest.approx(120 * 0.1)


def test_run_chunking_and_duration_do_not_change_results(lif_inputs):
    x = lif_inputs[:200]
    ref = somata.LIF(5, **LIF_P)
    ref.init_state(3)
    s0, st0 = ref.run(x, record="V")
    other = somata.LIF(5, **LIF_P)
    other.init_state(3)
    s1, st1 = other.run(x, record="V", chunk=7)
    np.testing.assert_array_equal(s0, s1)
    np.testing.assert_array_equal(st0["V"], st1["V"])
    # a run split in two continues from the state the first left
    split = somata.LIF(5, **LIF_P)
    split.init_state(3)
    sa, sta = split.run(x[:77], record="V")
    sb, stb = split.run(x[77:], record="V")
    np.testing.assert_array_equal(np.concatenate([sa, sb]), s0)
    np.testing.assert_array_equal(np.concatenate([sta["V"], stb["V"]]), st0["V"])
    # duration: "5 ms" at dt 0.1 is 50 steps of a constant input
    d = somata.LIF(5, **LIF_P)
    d.init_state(3)
    sd = d.run(2.0, duration="5 ms")
    assert sd.shape == (50, 3, 5)
    e = somata.LIF(5, **LIF_P)
    e.init_state(3)
    np.testing.assert_array_equal(sd, e.run(np.full((50, 5), 2.0)))


def test_constant_inputs_held_over_steps_and_counts():
    per_neuron = np.array([0.5, 1.5, 2.5, 3.0, 6.0])
    seq = np.broadcast_to(per_neuron, (200, 5))
    a = somata.LIF(5, **LIF_P)
    b = somata.LIF(5, **LIF_P)
    c = somata.LIF(5, **LIF_P)
    for layer in (a, b, c):
        layer.init_state(2)
    sa = a.run(per_neuron, steps=200)
    sb = b.run(seq)
    np.testing.assert_array_equal(sa, sb)
    counts = c.run(per_neuron, steps=200, counts=True)
    np.testing.assert_array_equal(np.asarray(counts), sb.sum(axis=0))
    np.testing.assert_array_equal(a.V, c.V)
    # the counts are those of the closed form
    V_ref, S_ref, margin = lif_reference(np.broadcast_to(per_neuron, (200, 2, 5)), dt=0.1, reset="soft", **LIF_P)
    assert margin > 1e-5
    np.testing.assert_array_equal(np.asarray(counts), S_ref.sum(axis=0))
    assert S_ref.sum(axis=0)[0, 0] == 0 and S_ref.sum(axis=0)[0, -1] >= 5
    with pytest.raises(ValueError):
        a.run(np.ones(4), steps=3)  # neither 1, one per neuron nor one per element
    with pytest.raises(ValueError):
        a.run(1.0, steps=3, duration="1 ms")


def test_reset_state_restarts_clock_and_state():
    layer = somata.LIF(2, V_initializer=somata.init.Constant(0.3))
    layer.init_state(2)
    layer.run(1.5, steps=25)
    assert layer.t == pytest.approx(2.5)
    assert not np.allclose(layer.V, 0.3)
    layer.reset_state(2)
    assert layer.t == 0.0
    np.testing.assert_array_equal(layer.V, np.full((2, 2), 0.3, dtype=np.float32))
    # dt is taken at init/reset time
    somata.environ.set(dt=0.5)
    assert layer.dt == pytest.approx(0.1)
    layer.reset_state(2)
    assert layer.dt == pytest.approx(0.5)
    with somata.environ.context(dt="0.02 ms"):
        assert somata.environ.get_dt() == pytest.approx(0.02)
        layer.reset_state()
        assert layer.dt == pytest.approx(0.02) and layer.batch_size is None
    assert somata.environ.get("dt") == pytest.approx(0.5)


# ----------------------------------------------------------------------------------------------
# states and parameters


def test_states_read_write_broadcast():
    layer = somata.LIF((2, 3))
    layer.init_state(4)
    assert layer.V.shape == (4, 2, 3) and layer.V.dtype == np.float32
    assert layer.num == 6 and layer.in_size == (2, 3) and layer.varshape == (2, 3) and layer.batch_size == 4
    layer.V = -1.5
    np.testing.assert_array_equal(layer.V, np.full((4, 2, 3), -1.5, np.float32))
    per_neuron = np.arange(6.0).reshape(2, 3)
    layer.V = per_neuron
    for b in range(4):
        np.testing.assert_array_equal(layer.V[b], per_neuron)
    full = np.random.default_rng(0).normal(size=(4, 2, 3))
    layer.V = full
    np.testing.assert_array_equal(layer.V, full.astype(np.float32))
    layer.V = "2 mV"
    np.testing.assert_array_equal(layer.V, np.full((4, 2, 3), 2.0, np.float32))
    layer.V = Q(np.full(3, 0.001), "V")  # 1 mV as a quantity in volts, broadcast
    np.testing.assert_allclose(layer.V, 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="broadcast"):
        layer.V = np.zeros(4)
    with pytest.raises(ValueError, match="V"):
        layer.V = "1 ms"
    # a written state is what the next step starts from: V = V_th → spike returned by get_spike
    layer.V = 1.0
    np.testing.assert_array_equal(layer.get_spike(), np.ones((4, 2, 3), np.float32))


def test_params_readable():
    layer = somata.LIF(3, tau=np.array([5.0, 10.0, 20.0]), V_th="-50 mV", V_reset=Q(-0.065, "V"), R=(2.0, "ohm"))
    np.testing.assert_array_equal(layer.tau, [5.0, 10.0, 20.0])
    assert layer.V_th == -50.0
    assert layer.R == 2.0
    assert layer.V_reset == pytest.approx(-65.0)
    assert layer.V_rest == 0.0  # BrainPy's default
    info = somata.model_info("LIF")
    assert info["params"]["tau"]["default"] == 5.0 and info["params"]["tau"]["unit"] == "ms"
    assert info["input_unit"] == "mA" and info["spk_reset"] == "soft"
    assert somata.LIF(2).tau == 5.0
    assert layer.input_unit == "mA" and layer.state_names == ["V"]
    with pytest.raises(AttributeError):
        layer.nonexistent_thing
    with pytest.raises(ValueError, match="tau"):
        somata.LIF(3, tau=np.array([5.0, 10.0]))  # wrong per-neuron length


def test_random_initializers():
    a = somata.LIF(20000, V_initializer=somata.init.Normal(-55.0, 2.0, unit="mV"), seed=3)
    b = somata.LIF(20000, V_initializer=somata.init.Normal("-55 mV", (2.0, "mV")), seed=3)
    c = somata.LIF(20000, V_initializer=somata.init.Normal(-55.0, 2.0), seed=4)
    for layer in (a, b, c):
        layer.init_state()
    assert a.V.mean() == pytest.approx(-55.0, abs=0.05)
    assert a.V.std() == pytest.approx(2.0, rel=0.03)
    np.testing.assert_array_equal(a.V, b.V)  # the same draw from the same seed
    assert not np.array_equal(a.V, c.V)
    u = somata.LIF(20000, V_initializer=somata.init.Uniform(Q(-0.07, "V"), "-60 mV"))
    u.init_state(2)
    assert u.V.min() >= -70.0 and u.V.max() < -59.999
    assert u.V.mean() == pytest.approx(-65.0, abs=0.1)
    assert np.ptp(u.V) > 9.9
    hh = somata.HH(2000)  # BrainPy's HH starts at V ~ Uniform(-70 mV, -60 mV)
    hh.init_state()
    assert -70.0 <= hh.V.min() and hh.V.max() <= -60.0 and np.ptp(hh.V) > 9.0


def _lif_trace(**kw):
    layer = somata.LIF(4, V_th=1.0, **kw)
    layer.init_state(2)
    x = np.linspace(0.5, 3.0, 8).reshape(2, 4)
    _, st = layer.run(np.broadcast_to(x, (150, 2, 4)), record="V")
    return st["V"]


def test_units_spellings_give_identical_layers():
    ref = _lif_trace(tau="10 ms", R=(1.5, "ohm"))
    assert ref[-1].max() > 0.5
    np.testing.assert_array_equal(_lif_trace(tau=(10.0, "ms"), R=(1.5, "ohm")), ref)
    np.testing.assert_array_equal(_lif_trace(tau=Q(10.0, "ms"), R=Q(1.5, "ohm")), ref)
    np.testing.assert_array_equal(_lif_trace(tau=10.0, R=1.5), ref)
    np.testing.assert_array_equal(_lif_trace(tau="10ms", R="1.5 ohm"), ref)
    np.testing.assert_array_equal(_lif_trace(tau=Q(np.full(4, 10.0), "ms"), R=1.5), ref)
    # another unit of the same dimension, converted
    np.testing.assert_allclose(_lif_trace(tau="0.01 s", R="1.5 ohm"), ref, atol=1e-6)
    np.testing.assert_allclose(_lif_trace(tau=Q(0.01, "s"), R=1.5), ref, atol=1e-6)
    # the quantity input path: 1 mA as 1000 uA
    a = somata.LIF(2)
    b = somata.LIF(2)
    a.init_state()
    b.init_state()
    np.testing.assert_array_equal(a.run(np.full((60, 2), 2.5)), b.run(Q(np.full((60, 2), 2500.0), "uA")))
    np.testing.assert_allclose(a.V, b.V, rtol=1e-6)


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(tau="10 mV"), "tau"),
        (dict(tau=(10.0, "mV")), "tau"),
        (dict(V_th=Q(1.0, "ms")), "V_th"),
        (dict(R="2 mS"), "R"),
    ],
)
def test_wrong_dimension_names_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        somata.LIF(3, **kw)


def test_unknown_parameter_and_bad_options():
    with pytest.raises(ValueError, match="taux"):
        somata.LIF(3, taux=3.0)
    with pytest.raises(ValueError):
        somata.LIF(3, spk_reset="medium")
    with pytest.raises(ValueError, match="tau"):
        somata.LIF(3, tau=-1.0)
    with pytest.raises(ValueError):
        somata.LIF(3, spk_fun="NoSuchSurrogate")
    with pytest.raises(ValueError, match="beta"):
        somata.LIF(3, spk_fun=somata.surrogate.Sigmoid(beta=3.0))
    with pytest.raises((KeyError, ValueError)):
        somata.neuron("NoSuchModel", 3)
    with pytest.raises(ValueError):
        somata.environ.set(dt=-0.1)
    with pytest.raises(ValueError, match="dt"):
        somata.environ.set(dt="1 mV")


def test_use_before_init_state_is_runtime_error():
    layer = somata.LIF(3)
    for f in (lambda: layer.update(1.0), lambda: layer.run(1.0, steps=3), lambda: layer.V,
              lambda: layer.get_spike(), lambda: layer.grad(np.ones((3, 3)), np.ones((3, 3)))):
        with pytest.raises(RuntimeError, match="init_state"):
            f()


def test_non_finite_input_is_value_error_and_leaves_state():
    layer = somata.LIF(3)
    layer.init_state(2)
    layer.run(1.0, steps=5)
    before = layer.V.copy()
    t0 = layer.t
    with pytest.raises(ValueError, match="NaN"):
        layer.update(np.nan)
    x = np.ones((4, 2, 3))
    x[2, 1, 2] = np.inf
    with pytest.raises(ValueError, match="inf"):
        layer.run(x)
    np.testing.assert_array_equal(layer.V, before)
    assert layer.t == t0


def test_bad_input_shapes_and_units():
    layer = somata.LIF(3)
    layer.init_state(2)
    with pytest.raises(ValueError):
        layer.update(np.ones(4))
    with pytest.raises(ValueError):
        layer.run(np.ones((4, 2)))
    with pytest.raises(ValueError, match="mA"):
        layer.update("1 mV")
    with pytest.raises(ValueError):
        layer.run(np.ones((5, 3)), steps=4)
    with pytest.raises(ValueError):
        layer.run(1.0)  # a constant needs steps or duration


# ----------------------------------------------------------------------------------------------
# every model


@pytest.mark.parametrize("model", somata.models())
def test_every_model_builds_inits_and_runs(model):
    assert model in somata.MODELS and getattr(somata, model).model == model
    layer = somata.neuron(model, 4)
    assert type(layer).__name__ == model
    layer.init_state(2)
    info = somata.model_info(model)
    assert layer.input_unit == info["input_unit"]
    assert set(layer.state_names) >= set(info["states"]) - {"refractory"}
    spikes, states = layer.run(0.0, steps=10, record="*")
    assert spikes.shape == (10, 2, 4) and spikes.dtype == np.uint8
    assert set(np.unique(spikes)) <= {0, 1}
    for name, v in states.items():
        assert v.shape == (10, 2, 4), name
        assert np.all(np.isfinite(v)), name
    assert layer.t == pytest.approx(1.0)
    for name, d in info["params"].items():
        got = np.asarray(getattr(layer, name), dtype=np.float64)
        np.testing.assert_allclose(got, d["default"], rtol=1e-6, err_msg=name)


def test_every_surrogate_name_builds():
    for name in somata.surrogate.NAMES:
        cls = getattr(somata.surrogate, name)
        layer = somata.LIF(2, spk_fun=cls())
        layer.init_state()
        assert layer.run(2.0, steps=40).sum() == 2  # the forward is Heaviside whatever the surrogate
        layer2 = somata.LIF(2, spk_fun=name)
        layer2.init_state()
        layer2.run(2.0, steps=3)


# ----------------------------------------------------------------------------------------------
# surrogates and gradients


def _two_step_grad(spk_fun, reset="soft"):
    layer = somata.LIF(1, spk_fun=spk_fun, spk_reset=reset, V_reset=-0.25)
    layer.init_state()
    x = np.array([[0.5], [0.7]])
    w = np.array([[0.0], [1.0]])  # loss = spike at step 1
    return layer.grad(x, w)


def _sigmoid_grad(x, alpha):
    s = 1.0 / (1.0 + np.exp(-alpha * x))
    return alpha * s * (1 - s)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_two_step_gradient_analytic(reset):
    """loss = spike(step 1) of a LIF from V = 0: ∂/∂I₁ = σ'(x₁)·c/(V_th − V_reset) and
    ∂/∂I₀ = σ'(x₁)/(V_th − V_reset)·(1 − c)·∂V₀'/∂I₀ where V₀' = V₀ − (X − V_reset)·spk₀ is the
    reset state (soft: X = V_th; hard: X = stop_grad(V₀)), whose derivative goes through the
    surrogate of spike 0: ∂V₀'/∂I₀ = c − (X − V_reset)·σ'(x₀)·c/(V_th − V_reset)."""
    alpha, dt, tau, V_th, V_reset = 2.0, 0.1, 5.0, 1.0, -0.25
    c = 1.0 - np.exp(-dt / tau)
    den = V_th - V_reset
    V0 = c * 0.5
    x0 = (V0 - V_th) / den
    V0r = V0  # no spike at step 0 (forward)
    V1 = V0r + c * (0.7 - V0r)
    x1 = (V1 - V_th) / den
    X = V_th if reset == "soft" else V0
    dV0r = c - (X - V_reset) * _sigmoid_grad(x0, alpha) * c / den
    want0 = _sigmoid_grad(x1, alpha) / den * (1 - c) * dV0r
    want1 = _sigmoid_grad(x1, alpha) * c / den
    for spk_fun in (somata.surrogate.Sigmoid(alpha=alpha), ("Sigmoid", {"alpha": alpha})):
        g = _two_step_grad(spk_fun, reset)
        assert g["spikes"].sum() == 0
        gi = np.asarray(g["input"], dtype=np.float64).ravel()
        np.testing.assert_allclose(gi, [want0, want1], rtol=2e-4)
    # the default alpha (4) is another function: the object's parameter is not ignored
    g4 = np.asarray(_two_step_grad("Sigmoid", reset)["input"]).ravel()
    assert abs(g4[1] - want1) > 1e-3 * abs(want1)


def test_surrogate_by_name_and_object_agree():
    a = np.asarray(_two_step_grad("ReluGrad")["input"])
    b = np.asarray(_two_step_grad(somata.surrogate.ReluGrad())["input"])
    c = np.asarray(_two_step_grad(somata.surrogate.ReluGrad(alpha=0.3, width=1.0))["input"])
    d = np.asarray(_two_step_grad(("ReluGrad", {"alpha": 0.6}))["input"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert np.all(a != 0)
    # ∂spike₁/∂I₁ = σ'(x₁)·c/(V_th − V_reset) is linear in ReluGrad's alpha (∂/∂I₀ is not:
    # it has a σ'(x₀)·σ'(x₁) term through the reset)
    np.testing.assert_allclose(d[1], 2 * a[1], rtol=1e-5)
    assert not np.allclose(d[0], 2 * a[0], rtol=1e-3)
    assert repr(somata.surrogate.Sigmoid(alpha=2)) == "Sigmoid(alpha=2.0)"


def test_grad_zero_where_surrogate_support_is_never_reached():
    """ReluGrad(α, width=1) is 0 for |x| ≥ 1; with a negative input V stays below V_reset − …,
    so x = V − 1 < −1 at every step: no spikes, and every gradient is exactly 0."""
    layer = somata.LIF(4, spk_fun="ReluGrad", tau="8 ms")
    layer.init_state(2)
    x = -np.random.default_rng(0).uniform(0.5, 4.0, size=(60, 2, 4))
    g = layer.grad(x, np.ones((60, 2, 4)), params=["tau", "V_th"])
    assert g["spikes"].sum() == 0
    assert g["input"].shape == (60, 2, 4)
    assert np.all(g["input"] == 0)
    assert np.all(np.asarray(g["tau"]) == 0) and np.all(np.asarray(g["V_th"]) == 0)
    # the same layer with a positive input has nonzero gradients (the zero above is not trivial)
    layer.reset_state(2)
    g = layer.grad(-x, np.ones((60, 2, 4)), params=["tau"])
    assert np.count_nonzero(g["input"]) > 0 and np.asarray(g["tau"]).any()


def test_grad_leaves_layer_usable_and_matches_run_spikes(lif_inputs):
    x = lif_inputs[:100]
    a = somata.LIF(5, **LIF_P)
    a.init_state(3)
    g = a.grad(x, np.ones(x.shape))
    b = somata.LIF(5, **LIF_P)
    b.init_state(3)
    np.testing.assert_array_equal(np.asarray(g["spikes"]), b.run(x).astype(np.asarray(g["spikes"]).dtype))


def test_spec_gradient_40_steps_inv_square():
    """§10: d(Σ spikes)/dI = 0.2687457 through 40 LIF steps, InvSquareGrad, I = 2 mA."""
    layer = somata.LIF(1, spk_fun="InvSquareGrad")
    layer.init_state()
    g = layer.grad(np.full((40, 1), 2.0), np.ones((40, 1)))
    assert float(np.sum(g["input"])) == pytest.approx(0.2687457, rel=1e-4)


def test_grad_constant_input_with_steps():
    """A constant input held over `steps` is the same as its sequence (§10's 0.2687457 again)."""
    layer = somata.LIF(1, spk_fun="InvSquareGrad")
    layer.init_state()
    g = layer.grad(2.0, np.ones((40, 1)), steps=40)
    assert np.asarray(g["input"]).shape == (40, 1)
    assert float(np.sum(g["input"])) == pytest.approx(0.2687457, rel=1e-4)
