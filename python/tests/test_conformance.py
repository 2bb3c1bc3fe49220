"""BrainPy 2.9.0 golden data (crates/somata/tests/data/brainpy-2.9.0) through the Python API.

Every ``neuron_*`` case is rebuilt with ``somata.neuron(model, ...)`` from the parameters the
golden records (quantities as ``(value, unit)`` tuples, initializers as ``somata.init.Constant``),
run with ``run(inputs, record="*")`` and compared with the pass criteria of
crates/somata/tests/data/FORMAT.md ("Pass criteria"). Every ``grad_*`` result is compared with
``layer.grad`` to FORMAT.md's 1e-3 relative (absolute floor 1e-5). ``surrogates.json`` is read
through one-step LIF gradients, ``net2_lif.json`` through ``somata.nn.Sequential``, ``ei_net.json``
as a ``somata.Network`` description, and brainpy-state.md §10's reference numbers are checked in
test_neurons.py. The ``synapse_*`` kinds are in test_synapses.py.
"""

import glob
import gzip
import json
import os

import numpy as np
import pytest

import somata
from _support import GOLDEN_DIR, Q

EXP_FAMILY = {"ExpIF", "ExpIFRef", "AdExIF", "AdExIFRef"}


def _load(path):
    with gzip.open(path, "rt") as f:
        return json.load(f)


def _num(x):
    # FORMAT.md: non-finite values are the strings "nan", "inf", "-inf"
    return float(x) if isinstance(x, str) else x


def _arr(v):
    """A nested JSON list (with "nan"/"inf" strings) as a float64 array."""
    if isinstance(v, list):
        return np.array([_arr(x) for x in v], dtype=np.float64)
    return np.float64(_num(v))


def _files(prefix):
    return sorted(glob.glob(os.path.join(GOLDEN_DIR, f"{prefix}*.json.gz")))


def _model(d):
    return d["model"].rsplit(".", 1)[-1]


_CACHE = {}


def _golden(path):
    if path not in _CACHE:
        _CACHE[path] = _load(path)
    return _CACHE[path]


def _neuron_cases():
    out = []
    for path in _files("neuron_"):
        d = _golden(path)
        name = os.path.basename(path)[: -len(".json.gz")]
        for k, c in enumerate(d["outputs"]["cases"]):
            out.append(pytest.param(path, k, id=f"{name}-{c['param_set']}-{c['input_name']}"))
    return out


def _py_param(v):
    """A golden parameter as the Python API takes it."""
    if isinstance(v, dict):
        if "initializer" in v:
            kind = v["initializer"]
            if kind != "Constant":
                pytest.skip(f"initializer {kind} is not reproducible from the golden")
            return somata.init.Constant((float(v["value"]), v["unit"]))
        return (v["value"], v["unit"])
    return v  # plain booleans (ref_var)


def _case_params(d, case):
    params = dict(d["params"].get("fixed_overrides_both_sets") or {})
    params.update(case["param_overrides"])
    return {k: _py_param(v) for k, v in params.items()}


def _param_value(d, case, name):
    for src in (case["param_overrides"], d["params"].get("fixed_overrides_both_sets") or {}, d["params"]["defaults"]):
        v = src.get(name)
        if isinstance(v, dict) and "value" in v:
            return float(_num(v["value"]))
    return None


def compare_neuron(d, case, got):
    """FORMAT.md's neuron pass criteria; ``got`` maps each golden output name to an array
    [steps, batch, n] in the golden's unit. Returns a list of failure messages (empty: pass)."""
    model = _model(d)
    gold = {k: _arr(v["value"]) for k, v in case["outputs"].items()}
    S, B, N = gold["spike"].shape
    for k, g in gold.items():
        if got[k].shape != g.shape:
            return [f"{k}: shape {got[k].shape}, golden {g.shape}"]
    dt = float(case.get("dt_ms", d["dt_ms"]))
    tau_ref = _param_value(d, case, "tau_ref") if "last_spike_time" in gold else None
    vt, dtt = _param_value(d, case, "V_T"), _param_value(d, case, "delta_T")
    exp_model = model in EXP_FAMILY and vt is not None and dtt is not None

    def runaway(v):
        return exp_model and v > vt + 5.0 * dtt

    states = [k for k in gold if k not in ("spike", "refractory")]
    discrete = [k for k in gold if k in ("spike", "refractory")]
    hard = d["spk_reset"] == "hard"
    fails = []
    for b in range(B):
        for n in range(N):
            g = {k: gold[k][:, b, n] for k in gold}
            a = {k: got[k][:, b, n] for k in gold}
            spikes = np.flatnonzero(g["spike"] == 1.0)
            first_spike = int(spikes[0]) if spikes.size else None
            first_run = None
            if "V" in g and exp_model:
                r = np.flatnonzero(g["V"] > vt + 5.0 * dtt)
                first_run = int(r[0]) if r.size else None
            if first_run is not None:
                need = first_run
            elif first_spike is not None:
                need = first_spike + 1
            else:
                need = S - 1
            need = min(need, S - 1)
            end, why = S, "end"
            for t in range(S):
                if tau_ref is not None and t > 0:
                    last = g["last_spike_time"][t - 1]
                    if np.isfinite(last) and last > -1e6 and abs((t * dt - last) - tau_ref) < 1e-3 * max(tau_ref, 1.0):
                        end, why = t, "refractory-release tie"
                        break
                if any(not np.isfinite(g[k][t]) for k in states):
                    end, why = t, "non-finite golden"
                    break
                skip = "V" in g and runaway(g["V"][t])
                if skip and not hard:
                    end, why = t + 1, "runaway upswing with soft reset"
                    break
                if not skip:
                    for k in states:
                        prev = abs(g[k][t] - g[k][t - 1]) if t > 0 else 0.0
                        nxt = abs(g[k][t + 1] - g[k][t]) if t + 1 < S and np.isfinite(g[k][t + 1]) else 0.0
                        slope = max(prev, nxt)
                        av, gv = a[k][t], g[k][t]
                        if not (np.isfinite(av) and abs(av - gv) <= 1e-3 + 1e-3 * abs(gv) + 0.05 * slope):
                            return [f"{k} at step {t}, row {b}, neuron {n}: {av} vs golden {gv}"]
                if any(a[k][t] != g[k][t] for k in discrete):
                    end, why = t + 1, f"spike/refractory mismatch at step {t}"
                    break
            if end <= need:
                fails.append(f"row {b} neuron {n}: comparison stopped at step {end} ({why}) before step {need}")
    return fails


def _build(d, case, batch):
    somata.environ.set(dt=float(case.get("dt_ms", d["dt_ms"])))
    x = _arr(case["input"]["value"])
    layer = somata.neuron(_model(d), x.shape[2], spk_reset=d["spk_reset"], **_case_params(d, case))
    layer.init_state(batch)
    return layer, x


def test_all_golden_files_present():
    assert len(_files("neuron_")) == 44
    assert len(_files("grad_")) == 5
    models = {_model(_golden(p)) for p in _files("neuron_")}
    missing = models - set(somata.models())
    assert not missing, f"golden models without a somata class: {missing}"


@pytest.mark.parametrize("path,k", _neuron_cases())
def test_neuron_golden(path, k):
    d = _golden(path)
    case = d["outputs"]["cases"][k]
    assert case.get("error") is None
    batch = d["shape"]["batch"]
    layer, x = _build(d, case, batch)
    assert layer.spk_reset == d["spk_reset"]

    # the initial state is the golden's, before any step
    for name, st in case["initial_state"].items():
        want = _arr(st["value"])
        assert somata.model_info(_model(d))["states"][name]["unit"] == st["unit"]
        have = np.asarray(getattr(layer, name), dtype=np.float64)
        np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-6, err_msg=f"initial {name}")

    # inputs in the golden's unit (uA for HH/MorrisLecar/WangBuzsakiHH) through a quantity
    spikes, states = layer.run(Q(x, case["input"]["unit"]), record="*")
    assert spikes.shape == x.shape and spikes.dtype == np.uint8
    got = {"spike": spikes.astype(np.float64)}
    info = somata.model_info(_model(d))
    for name, out in case["outputs"].items():
        if name == "spike":
            assert out["unit"] == "1"
            continue
        assert name in states, f"state {name} not recorded by record='*' (got {sorted(states)})"
        # the recorded states are in the model's canonical units; the golden names its unit
        assert info["states"][name]["unit"] == out["unit"], name
        got[name] = np.asarray(states[name], dtype=np.float64)
        assert states[name].shape == x.shape
    fails = compare_neuron(d, case, got)
    assert not fails, "\n".join(fails[:10])


def _grad_cases():
    out = []
    for path in _files("grad_"):
        d = _golden(path)
        name = os.path.basename(path)[: -len(".json.gz")]
        for k, r in enumerate(d["outputs"]["results"]):
            sg = r["surrogate"].split("(")[0]
            out.append(pytest.param(path, k, id=f"{name}-{sg}-{r['spk_reset']}"))
    return out


def _close(a, b, atol=1e-5, rtol=1e-3):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    assert a.shape == b.shape
    return np.abs(a - b) <= atol + rtol * np.abs(b)


@pytest.mark.parametrize("path,k", _grad_cases())
def test_grad_golden(path, k):
    d = _golden(path)
    res = d["outputs"]["results"][k]
    somata.environ.set(dt=float(d["dt_ms"]))
    sg_name = res["surrogate"].split("(")[0]
    sg = getattr(somata.surrogate, sg_name)(**(res.get("surrogate_params") or {}))
    x = _arr(d["inputs"]["x"]["value"])
    lw = _arr(d["inputs"]["loss_weight"])
    T, B, N = x.shape
    # tau in ms and V_th in mV as the golden's quantities (the canonical units, so grad's
    # per-canonical-unit gradients are the golden's per ms / per mV)
    p = d["params"]
    layer = somata.neuron(
        _model(d),
        N,
        spk_reset=res["spk_reset"],
        spk_fun=sg,
        tau=(p["tau"]["value"], p["tau"]["unit"]),
        V_th=(p["V_th"]["value"], p["V_th"]["unit"]),
    )
    assert p["tau"]["unit"] == "ms" and p["V_th"]["unit"] == "mV" and d["inputs"]["x"]["unit"] == "mA"
    layer.init_state(B)
    g = layer.grad(x, lw, params=["tau", "V_th"])
    spikes = np.asarray(g["spikes"], dtype=np.float64)
    np.testing.assert_array_equal(spikes, _arr(res["spikes"]))
    loss = float(np.sum(spikes * lw))
    assert _close(loss, _num(res["loss"])).all(), (loss, res["loss"])
    gi = np.asarray(g["input"], dtype=np.float64)
    assert gi.shape == x.shape
    ok = _close(gi, _arr(res["grad_input"]))
    assert ok.all(), f"grad_input: {np.count_nonzero(~ok)}/{ok.size} off"
    gt = np.asarray(g["tau"], dtype=np.float64).ravel()
    gv = np.asarray(g["V_th"], dtype=np.float64).ravel()
    # a scalar shared by all neurons: one gradient (or per-neuron parts summing to it)
    assert _close(gt.sum(), _num(res["grad_tau"])).all(), (gt, res["grad_tau"])
    assert _close(gv.sum(), _num(res["grad_V_th"])).all(), (gv, res["grad_V_th"])


def test_grad_units_are_per_canonical_unit():
    """The same LIF given tau in seconds and V_th in volts: grad still reports per ms / per mV."""
    path = os.path.join(GOLDEN_DIR, "grad_LIF.json.gz")
    d = _golden(path)
    res = next(r for r in d["outputs"]["results"] if r["surrogate"].startswith("Sigmoid") and r["spk_reset"] == "soft")
    x = _arr(d["inputs"]["x"]["value"])
    lw = _arr(d["inputs"]["loss_weight"])
    layer = somata.LIF(x.shape[2], spk_fun="Sigmoid", spk_reset="soft", tau="0.008 s", V_th=(0.001, "V"))
    assert layer.tau == pytest.approx(8.0)
    assert layer.V_th == pytest.approx(1.0)
    layer.init_state(x.shape[1])
    g = layer.grad(x, lw, params=["tau", "V_th"])
    assert _close(np.sum(g["tau"]), _num(res["grad_tau"])).all()
    assert _close(np.sum(g["V_th"]), _num(res["grad_V_th"])).all()
    # the input in uA (a quantity): the gradient is still per canonical mA
    layer.reset_state(x.shape[1])
    g2 = layer.grad(Q(x * 1e3, "uA"), lw, params=["tau"])
    ok = _close(g2["input"], _arr(res["grad_input"]))
    assert ok.all()


def test_criteria_reject_a_wrong_model():
    """Negative control: the same comparison fails for a LIF whose tau is 2% off, and for the
    other reset."""
    path = os.path.join(GOLDEN_DIR, "neuron_LIF_soft.json.gz")
    d = _golden(path)
    case = next(c for c in d["outputs"]["cases"] if c["param_set"] == "alt" and c["input_name"] == "constant")
    x = _arr(case["input"]["value"])
    params = _case_params(d, case)
    tau = params["tau"]
    for kw, reset in ((dict(params, tau=(tau[0] * 1.02, tau[1])), "soft"), (params, "hard")):
        layer = somata.neuron("LIF", x.shape[2], spk_reset=reset, **kw)
        layer.init_state(x.shape[1])
        spikes, states = layer.run(Q(x, case["input"]["unit"]), record="*")
        got = {"spike": spikes.astype(np.float64), "V": states["V"].astype(np.float64)}
        assert compare_neuron(d, case, got), (kw, reset)


# ----------------------------------------------------------------------------------------------
# surrogates.json: each surrogate's derivative through a one-step LIF gradient


def _surrogate_cases():
    d = _load(os.path.join(GOLDEN_DIR, "surrogates.json.gz"))
    return [pytest.param(name, setname, id=f"{name}-{setname}")
            for name, sets in sorted(d["outputs"].items()) for setname in sets]


@pytest.mark.parametrize("name,setname", _surrogate_cases())
def test_surrogate_golden(name, setname):
    """A LIF from V = 0 (defaults: tau 5 ms, R 1, V_th 1, V_reset 0) given I for one step has
    V₁ = c·I, c = 1 − e^{−dt/τ}, and x = (V₁ − V_th)/(V_th − V_reset) = c·I − 1, so
    ∂spike/∂I = σ'(x)·c. Choosing I = (1 + x)/c puts x on the golden's grid. At a kink of a
    piecewise surrogate, float32 rounding of x may land on either side: such a point passes
    when the golden equals one of our one-sided values (at x ± 1e-4) and those differ."""
    d = _golden(os.path.join(GOLDEN_DIR, "surrogates.json.gz"))
    o = d["outputs"][name][setname]
    x = _arr(d["inputs"]["x"])
    gold = _arr(o["grad"])
    gold_fwd = _arr(o["forward"])
    dt, tau = 0.1, 5.0
    c = 1.0 - np.exp(-dt / tau)
    delta = 1e-4
    xs = np.concatenate([x, x - delta, x + delta])
    sg = getattr(somata.surrogate, name)(**o["kwargs"])
    layer = somata.LIF(xs.size, spk_fun=sg)
    layer.init_state()
    g = layer.grad(((1.0 + xs) / c)[None, :], np.ones((1, xs.size)))
    gi = np.asarray(g["input"], dtype=np.float64).ravel() / c
    n = x.size
    g0, gm, gp = gi[:n], gi[n:2 * n], gi[2 * n:]

    def close(a, b):
        return np.abs(a - b) <= 1e-4 + 1e-3 * np.abs(b)

    ok = close(g0, gold)
    kink = ~ok & (close(gm, gold) | close(gp, gold)) & ~close(gm, gp)
    bad = ~ok & ~kink
    assert not bad.any(), [(x[i], g0[i], gold[i]) for i in np.flatnonzero(bad)][:5]
    assert kink.sum() <= 2
    fwd = np.asarray(g["spikes"], dtype=np.float64).ravel()[:n]
    away = np.abs(x) > 1e-3  # x = 0 exactly is a float32 tie of c·I and V_th
    np.testing.assert_array_equal(fwd[away], gold_fwd[away])


# ----------------------------------------------------------------------------------------------
# net2_lif.json: Linear → LIF → Linear → LIF through somata.nn.Sequential


def _net2_cases():
    d = _load(os.path.join(GOLDEN_DIR, "net2_lif.json.gz"))
    return [pytest.param(k, id=f"{r['surrogate'].split('(')[0]}-{r['spk_reset']}") for k, r in enumerate(d["outputs"]["results"])]


@pytest.mark.parametrize("k", _net2_cases())
def test_net2_lif_golden(k):
    """loss = Σ spikes₂·loss_w + 0.1·Σ spikes₁. A Sequential's backward takes ∂L/∂output only,
    so the gradient is the sum of two backward passes: the whole network with ∂L/∂spikes₂ =
    loss_w, and its first two layers with ∂L/∂spikes₁ = 0.1 (the same forward computation)."""
    d = _golden(os.path.join(GOLDEN_DIR, "net2_lif.json.gz"))
    r = d["outputs"]["results"][k]
    p = d["params"]
    x = _arr(d["inputs"]["x"])  # [T, B, 10]
    lw = _arr(d["inputs"]["loss_w"])
    sg = getattr(somata.surrogate, r["surrogate"].split("(")[0])()

    def lif(n, lp):
        return somata.LIF(n, tau=(lp["tau_ms"], "ms"), V_th=(lp["V_th_mV"], "mV"), R=(lp["R_ohm"], "ohm"),
                          V_rest=(lp["V_rest_mV"], "mV"), V_reset=(lp["V_reset_mV"], "mV"),
                          spk_reset=r["spk_reset"], spk_fun=sg)

    def lin1():
        return somata.nn.Linear(10, 8, weight=_arr(p["W1"]), b=_arr(p["b1"]))

    full = somata.nn.Sequential([lin1(), lif(8, p["layer1"]), somata.nn.Linear(8, 3, weight=_arr(p["W2"]), b=_arr(p["b2"])),
                                 lif(3, p["layer2"])], dt=float(d["dt_ms"]))
    first = somata.nn.Sequential([lin1(), lif(8, p["layer1"])], dt=float(d["dt_ms"]))
    xb = np.ascontiguousarray(x.transpose(1, 0, 2))  # [batch, steps, n]
    y2 = full.forward(xb)
    y1 = first.forward(xb)
    np.testing.assert_array_equal(y2, _arr(r["spikes_layer2"]))
    np.testing.assert_array_equal(y1, _arr(r["spikes_layer1"]))
    loss = float(np.sum(y2 * lw) + 0.1 * np.sum(y1))
    assert _close(loss, _num(r["loss"])).all()
    full.zero_grad()
    first.zero_grad()
    gx = full.backward(np.broadcast_to(lw, y2.shape)) + first.backward(np.full(y1.shape, 0.1))
    G, G1 = full.gradients(), first.gradients()
    checks = {
        "grad_W1": G["0.W"] + G1["0.W"],
        "grad_b1": G["0.b"] + G1["0.b"],
        "grad_W2": G["2.W"],
        "grad_b2": G["2.b"],
        "grad_input": gx,
    }
    for key, got in checks.items():
        ok = _close(got, _arr(r[key]))
        assert ok.all(), f"{key}: {np.count_nonzero(~ok)}/{ok.size} off"


# ----------------------------------------------------------------------------------------------
# ei_net.json: 20 LIFRef with two COBA projections, as a Network dictionary


def test_ei_net_golden():
    d = _golden(os.path.join(GOLDEN_DIR, "ei_net.json.gz"))
    p, nr = d["params"], d["params"]["neuron"]
    WE, WI = _arr(p["W_E"]["value"]), _arr(p["W_I"]["value"])
    assert p["W_E"]["unit"] == "S" and p["V_init"]["unit"] == "mV"
    I_ext = _arr(d["inputs"]["I_ext"]["value"])
    steps = d["inputs"]["steps"]
    desc = somata.description(
        dt=Q(float(d["dt_ms"]), "ms"),
        steps=steps,
        populations=[somata.Population(
            name="N", model=nr["class"], size=20, spk_reset=nr["spk_reset"],
            params={"V_rest": Q(nr["V_rest_mV"], "mV"), "V_th": Q(nr["V_th_mV"], "mV"), "V_reset": Q(nr["V_reset_mV"], "mV"),
                    "tau": Q(nr["tau_ms"], "ms"), "tau_ref": Q(nr["tau_ref_ms"], "ms"), "R": Q(nr["R_ohm"], "ohm")},
            init={"V": {"unit": "mV", "values": _arr(p["V_init"]["value"])}})],
        projections=[
            somata.Projection(name="E", pre="N", pre_range=[0, p["n_exc"]], post="N",
                              synapse={"model": "Expon", "tau": Q(p["syn_E"]["tau_ms"], "ms")},
                              output={"model": "COBA", "E": Q(p["syn_E"]["E_mV"], "mV")},
                              conn={"type": "dense", "unit": "S", "values": WE}),
            somata.Projection(name="I", pre="N", pre_range=[p["n_exc"], 20], post="N",
                              synapse={"model": "Expon", "tau": Q(p["syn_I"]["tau_ms"], "ms")},
                              output={"model": "COBA", "E": Q(p["syn_I"]["E_mV"], "mV")},
                              conn={"type": "dense", "unit": "S", "values": WI}),
        ],
        inputs=[somata.Input(target="N", type="per_step", unit=d["inputs"]["I_ext"]["unit"], values=I_ext)],
        monitors=[somata.Monitor(name="S", population="N"),
                  somata.Monitor(name="V", population="N", var="V"),
                  somata.Monitor(name="gE", population="N", var="g@E"),
                  somata.Monitor(name="gI", population="N", var="g@I"),
                  somata.Monitor(name="lst", population="N", var="last_spike_time")],
    )
    net = somata.Network(desc)
    np.testing.assert_allclose(net.state("N", "V"), _arr(d["outputs"]["V_after_init"]["value"]), atol=1e-5)
    with pytest.warns(UserWarning, match="initial state"):
        net.run()
    assert net.t == pytest.approx(steps * float(d["dt_ms"]))
    o = d["outputs"]
    t, i = net.spikes("S")
    dense = np.zeros((steps, 20))
    run = t >= 0
    dense[np.rint(t[run] / net.dt).astype(int), i[run]] = 1
    np.testing.assert_array_equal(dense, _arr(o["spike"]))
    scale = {"mV": 1.0, "ms": 1.0, "mS": 1e-3}  # the monitors are in canonical units (g in S)
    for mon, key in (("V", "V"), ("gE", "g_E"), ("gI", "g_I"), ("lst", "last_spike_time")):
        want = _arr(o[key]["value"]) * scale[o[key]["unit"]]
        got = net.monitor(mon).astype(np.float64)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * scale[o[key]["unit"]], err_msg=mon)
