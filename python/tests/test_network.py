"""Networks: network files, TOML text, dictionaries and description objects; monitors,
recording, errors, Ctrl-C and the GIL."""

import _thread
import os
import threading
import time
import warnings

import numpy as np
import pytest

import somata
from _support import NETWORKS_DIR, Q

COBA = os.path.join(NETWORKS_DIR, "coba.toml")


@pytest.fixture(scope="module")
def coba_100ms():
    net = somata.Network.load(COBA)
    with pytest.warns(UserWarning, match="start at or above threshold"):
        res = net.run("100 ms")
    return net, res


def _events_ok(t, i, size, dt):
    assert t.dtype == np.float64 and np.issubdtype(i.dtype, np.integer)
    assert t.shape == i.shape
    assert np.all((i >= 0) & (i < size))
    steps = t / dt
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-9)
    assert np.all(np.diff(t) >= 0), "events in step order"
    assert t.min() >= -dt  # the initial state's spikes are at t = −dt


def test_coba_load_and_run(coba_100ms):
    net, res = coba_100ms
    assert net.name == "coba"
    assert net.dt == pytest.approx(0.1)
    assert net.default_steps == 10000  # duration = "1000 ms"
    assert net.populations() == {"E": 3200, "I": 800}
    assert net.synapses() == pytest.approx(0.02 * 4000 * 4000, rel=0.05)
    s = res.summary
    assert s["steps"] == 1000 and s["duration_ms"] == pytest.approx(100.0)
    assert set(s["populations"]) == {"E", "I"}
    assert res["populations"] is s["populations"]
    for name, size in (("E", 3200), ("I", 800)):
        p = s["populations"][name]
        assert p["size"] == size
        assert 10.0 <= p["rate_hz"] <= 40.0, p
        t, i = res.spikes(f"{name}_spike")
        _events_ok(t, i, size, net.dt)
        assert t.max() < 100.0
        assert p["spikes"] == t.size  # the summary counts every recorded spike
        assert np.unique(i).size > size // 4  # activity is spread over the population
    assert s["synaptic_events"] > 0
    V = res.monitor("E_V")
    assert V.shape == (1000, 5) and V.dtype == np.float32
    assert np.all((V > -90) & (V < -45))
    mons = net.monitors()
    assert mons["E_V"]["columns"] == 5 and mons["E_V"]["samples"] == 1000
    assert mons["E_spike"]["population"] == "E" and mons["E_spike"]["var"] == "spike"


def test_coba_rate_excludes_initial_spikes(coba_100ms):
    net, res = coba_100ms
    for name, size in (("E", 3200), ("I", 800)):
        t, _ = res.spikes(f"{name}_spike")
        assert np.any(t < 0)  # coba does start with some neurons above threshold
        run_rate = np.count_nonzero(t >= 0) / (size * 0.1)
        assert res.summary["populations"][name]["rate_hz"] == pytest.approx(run_rate)


COBA_SHORT = open(COBA).read().replace('duration = "1000 ms"', 'duration = "60 ms"')


def _coba_dict():
    params = {"V_rest": "-60 mV", "V_th": "-50 mV", "V_reset": "-60 mV", "tau": "20 ms", "tau_ref": "5 ms", "R": "1 ohm"}

    def proj(name, pre, post, tau, E, w):
        return {"name": name, "pre": pre, "post": post, "synapse": {"model": "Expon", "tau": tau},
                "output": {"model": "COBA", "E": E}, "conn": {"type": "fixed_prob", "prob": 0.02, "weight": w}}

    return {
        "name": "coba", "dt": "0.1 ms", "duration": "60 ms", "seed": 42,
        "population": [
            {"name": "E", "model": "LIFRef", "size": 3200, "params": params, "init": {"V": {"normal": ["-55 mV", "2 mV"]}}, "seed": 42},
            {"name": "I", "model": "LIFRef", "size": 800, "params": params, "init": {"V": {"normal": ["-55 mV", "2 mV"]}}, "seed": 43},
        ],
        "projection": [
            proj("E→E", "E", "E", "5 ms", "0 mV", "0.6 S"),
            proj("E→I", "E", "I", "5 ms", "0 mV", "0.6 S"),
            proj("I→E", "I", "E", "10 ms", "-80 mV", "6.7 S"),
            proj("I→I", "I", "I", "10 ms", "-80 mV", "6.7 S"),
        ],
        "input": [{"target": "E", "value": "20 mA"}, {"target": "I", "value": "20 mA"}],
        "monitor": [{"name": "E_spike", "population": "E"}, {"name": "I_spike", "population": "I"},
                    {"name": "E_V", "population": "E", "var": "V", "neurons": [0, 1, 2, 3, 4]}],
    }


def _coba_objects():
    params = {"V_rest": Q(-60.0, "mV"), "V_th": Q(-0.05, "V"), "V_reset": (-60.0), "tau": Q(20.0, "ms"),
              "tau_ref": "5 ms", "R": Q(1.0, "ohm")}
    pops = [somata.Population(name=n, model="LIFRef", size=s, params=params,
                              init={"V": {"normal": [Q(-55.0, "mV"), "2 mV"]}}, seed=seed)
            for n, s, seed in (("E", 3200, 42), ("I", 800, 43))]
    projs = []
    for name, pre, post in (("E→E", "E", "E"), ("E→I", "E", "I"), ("I→E", "I", "E"), ("I→I", "I", "I")):
        exc = pre == "E"
        projs.append(somata.Projection(
            name=name, pre=pre, post=post,
            synapse={"model": "Expon", "tau": Q(5.0 if exc else 10.0, "ms")},
            output={"model": "COBA", "E": Q(0.0 if exc else -80.0, "mV")},
            conn={"type": "fixed_prob", "prob": 0.02, "weight": Q(0.6 if exc else 6.7, "S")}))
    return somata.description(
        dt=Q(0.1, "ms"), duration="60 ms", name="coba", seed=42,
        populations=pops, projections=projs,
        inputs=[somata.Input(target="E", value=Q(20.0, "mA")), somata.Input(target="I", value="20 mA")],
        monitors=[somata.Monitor(name="E_spike", population="E"), somata.Monitor(name="I_spike", population="I"),
                  somata.Monitor(name="E_V", population="E", var="V", neurons=np.arange(5))],
    )


def _events(net):
    with pytest.warns(UserWarning):
        net.run()
    return [net.spikes(m) for m in ("E_spike", "I_spike")], net.monitor("E_V")


def test_dict_and_objects_equal_toml_text():
    ref, ref_v = _events(somata.Network.from_toml(COBA_SHORT, dir=NETWORKS_DIR, name="x"))
    assert ref[0][0].size > 1000
    variants = [
        somata.Network(_coba_dict()),
        somata.Network.from_dict(_coba_dict()),
        somata.Network(_coba_objects()),
    ]
    for net in variants:
        assert net.default_steps == 600
        got, got_v = _events(net)
        for (t0, i0), (t1, i1) in zip(ref, got):
            np.testing.assert_array_equal(t0, t1)
            np.testing.assert_array_equal(i0, i1)
        np.testing.assert_array_equal(ref_v, got_v)
    # the file itself, run for the same 60 ms, is the same network again
    f = somata.Network.load(COBA)
    with pytest.warns(UserWarning):
        f.run(steps=600)
    np.testing.assert_array_equal(f.spikes("E_spike")[1], ref[0][1])


def test_keyword_construction():
    net = somata.Network(dt="0.1 ms", steps=5, populations=[somata.Population(name="A", model="LIF", size=2)],
                         inputs=[somata.Input(target="A", value="2 mA")],
                         monitors=[somata.Monitor(name="V", population="A", var="V")])
    assert net.default_steps == 5
    net.run()
    a = somata.LIF(2)
    a.init_state()
    _, st = a.run(2.0, steps=5, record="V")
    np.testing.assert_allclose(net.monitor("V"), st["V"], atol=1e-7)
    with pytest.raises(TypeError):
        somata.Network({"dt": "0.1 ms"}, steps=3)


def test_single_lif_population_matches_standalone_layer():
    n = 6
    currents = np.linspace(1.2, 4.0, n)  # mA, one per neuron
    params = {"tau": "8 ms", "V_th": "1 mV", "V_reset": "-0.2 mV", "V_rest": "0 mV", "R": "1.5 ohm"}
    net = somata.Network({
        "dt": "0.1 ms", "duration": "50 ms",
        "population": [{"name": "P", "model": "LIF", "size": n, "params": params, "spk_reset": "hard"}],
        "input": [{"target": "P", "values": currents.tolist()}],  # bare numbers: mA
        "monitor": [{"name": "S", "population": "P"}, {"name": "V", "population": "P", "var": "V"}],
    })
    res = net.run()
    layer = somata.LIF(n, spk_reset="hard", **params)
    layer.init_state()
    spikes, st = layer.run(np.broadcast_to(currents, (500, n)), record="V")
    counts = spikes.sum(axis=0)
    assert counts.min() > 0 and counts.max() > counts.min()
    t, i = res.spikes("S")
    assert t.min() >= 0
    np.testing.assert_array_equal(np.bincount(i, minlength=n), counts)
    steps = np.rint(t / net.dt).astype(int)
    dense = np.zeros_like(spikes)
    dense[steps, i] = 1
    np.testing.assert_array_equal(dense, spikes)
    np.testing.assert_allclose(net.monitor("V"), st["V"], atol=1e-6)
    assert res["populations"]["P"]["spikes"] == counts.sum()
    np.testing.assert_allclose(net.state("P", "V"), layer.V, atol=1e-6)


def test_state_access_and_continued_runs():
    net = somata.Network({"dt": "0.1 ms", "steps": 10,
                          "population": [{"name": "P", "model": "LIF", "size": 3}],
                          "monitor": [{"name": "S", "population": "P"}]})
    net.set_state("P", "V", [0.0, 0.5, 2.0])  # neuron 2 starts above threshold
    np.testing.assert_array_equal(net.state("P", "V"), np.array([0.0, 0.5, 2.0], np.float32))
    with pytest.warns(UserWarning):
        net.run(steps=4)
    assert net.t == pytest.approx(0.4)
    net.set_state("P", "V", 0.25)
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # see test_warnings_not_repeated_on_later_runs
        net.run(steps=6, chunk=2, progress=lambda k, n: calls.append((k, n)))
    assert calls == [(2, 6), (4, 6), (6, 6)]
    assert net.t == pytest.approx(1.0)
    t, i = net.spikes("S")
    assert list(zip(t.round(6), i)) == [(-0.1, 2)]
    # V after the second run: 0.25 decaying for 6 steps without input
    a = np.exp(-0.1 / 5.0)
    np.testing.assert_allclose(net.state("P", "V"), 0.25 * a ** 6, rtol=1e-5)


def _coba_short():
    return somata.Network.from_toml(COBA_SHORT, dir=NETWORKS_DIR)


def test_warnings_not_repeated_on_later_runs():
    net = somata.Network({"dt": "0.1 ms", "steps": 3, "population": [{"name": "P", "model": "LIF", "size": 2}]})
    net.set_state("P", "V", [2.0, 0.0])
    with pytest.warns(UserWarning, match="start at or above threshold"):
        net.run()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.run()  # this run starts from V below threshold: nothing to warn about


def test_monitor_every_and_lookup_errors():
    net = somata.Network({"dt": "0.1 ms", "steps": 20, "population": [{"name": "P", "model": "LIF", "size": 3}],
                          "input": [{"target": "P", "value": "3 mA"}],
                          "monitor": [{"name": "S", "population": "P"}, {"name": "V", "population": "P", "var": "V", "every": 4}]})
    net.run()
    layer = somata.LIF(3)
    layer.init_state()
    _, st = layer.run(3.0, steps=20, record="V")
    V = net.monitor("V")
    assert V.shape == (5, 3)
    np.testing.assert_allclose(V, st["V"][0::4], atol=1e-6)  # samples at steps 0, 4, 8, ...
    assert net.monitor("S").shape == (20, 3)
    with pytest.raises(ValueError, match="nope"):
        net.spikes("nope")
    with pytest.raises(ValueError, match="nope"):
        net.monitor("nope")
    with pytest.raises(ValueError):
        net.spikes("V")
    with pytest.raises(ValueError, match="X"):
        net.state("X", "V")
    with pytest.raises(ValueError, match="Q"):
        net.state("P", "Q")
    with pytest.raises(ValueError):
        net.set_state("P", "V", [1.0, 2.0])


def test_record_to_writes_npy_equal_to_monitors(tmp_path):
    # the same network run in memory gives the reference events and samples
    mem = _coba_short()
    with pytest.warns(UserWarning):
        mem.run()
    net = _coba_short()
    out = tmp_path / "rec"
    net.record_to(out)
    with pytest.warns(UserWarning):
        net.run()
    for mon, size in (("E_spike", 3200), ("I_spike", 800)):
        ev = np.load(out / f"{mon}.events.npy")
        assert ev.dtype == np.int64 and ev.ndim == 2 and ev.shape[1] == 2
        t, i = mem.spikes(mon)
        np.testing.assert_array_equal(ev[:, 1], i)
        np.testing.assert_array_equal(ev[:, 0] * net.dt, t)
        assert ev[:, 0].min() == -1 and ev[:, 0].max() < 600
        assert net.monitors()[mon]["events"] == t.size
        dense = np.load(out / f"{mon}.npy")
        assert dense.shape == (600, size)
        run = ev[:, 0] >= 0
        want = np.zeros((600, size), np.float32)
        want[ev[run, 0], ev[run, 1]] = 1
        np.testing.assert_array_equal(dense, want)
    np.testing.assert_array_equal(np.load(out / "E_V.npy"), mem.monitor("E_V"))
    files = net.monitors()["E_spike"]["files"]
    assert any(f.endswith("E_spike.events.npy") for f in files)


def test_spikes_readable_after_record_to(tmp_path):
    net = _coba_short()
    net.record_to(tmp_path)
    with pytest.warns(UserWarning):
        res = net.run(steps=50)
    t, i = res.spikes("E_spike")
    ev = np.load(tmp_path / "E_spike.events.npy")
    np.testing.assert_array_equal(ev[:, 0] * net.dt, t)
    np.testing.assert_array_equal(ev[:, 1], i)


def test_threads_do_not_change_results():
    out = []
    for threads in (1, 2):
        net = somata.Network.from_toml(COBA_SHORT, dir=NETWORKS_DIR)
        with pytest.warns(UserWarning):
            net.run(threads=threads)
        out.append(net.spikes("E_spike"))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


# ----------------------------------------------------------------------------------------------
# errors


def _pop(**kw):
    d = {"name": "E", "model": "LIF", "size": 10}
    d.update(kw)
    return {"dt": "0.1 ms", "duration": "10 ms", "population": [d]}


@pytest.mark.parametrize(
    "desc,key",
    [
        (_pop(params={"tau": "20 mV"}), "tau"),
        (_pop(params={"taux": "20 ms"}), "taux"),
        (_pop(sise=3), "sise"),
        ({"dt": "0.1 ms", "duration": "10 ms", "population": [{"name": "E", "size": 10}]}, "model"),
        ({"duration": "10 ms", "population": [{"name": "E", "model": "LIF", "size": 10}]}, "dt"),
        (_pop(model="NoSuchModel"), "NoSuchModel"),
        (dict(_pop(), projection=[{"pre": "E", "post": "X", "conn": {"type": "all_to_all", "weight": "1 S"}}]), "X"),
        (dict(_pop(), monitor=[{"population": "E", "var": "Q"}]), "Q"),
        (dict(_pop(), input=[{"target": "E", "value": "3 ms"}]), "value"),
    ],
)
def test_bad_descriptions_raise_value_error_naming_key(desc, key):
    with pytest.raises(ValueError, match=key):
        somata.Network(desc)


def test_bad_toml_and_missing_files():
    with pytest.raises(ValueError, match="line 3"):
        somata.Network.from_toml('dt = "0.1 ms"\nsteps = 3\n[[population]\nname = "x"\n')
    with pytest.raises(OSError):
        somata.Network.load("/nonexistent/dir/net.toml")
    with pytest.raises(OSError):
        somata.Network({"dt": "0.1 ms", "steps": 3, "population": [{"name": "E", "model": "LIF", "size": 2}],
                        "input": [{"target": "E", "type": "per_step", "npy": "missing.npy"}]}, dir=NETWORKS_DIR)


# ----------------------------------------------------------------------------------------------
# Ctrl-C and the GIL


def test_ctrl_c_stops_a_long_run():
    net = somata.Network.load(COBA)
    full = 100_000.0  # 100 s simulated: ~10⁶ steps, far longer than the test waits
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.run(f"{full} ms")
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0
    assert 0 < net.t < full
    # what ran stays run and recorded, and the network runs on afterwards
    t, _ = net.spikes("E_spike")
    assert t.size > 0 and t.max() < net.t
    before = net.t
    with pytest.warns(UserWarning, match="initial state"):  # the interrupted run never got to warn
        net.run(steps=10)
    assert net.t == pytest.approx(before + 1.0)


def test_gil_released_during_run():
    """A Python thread counting while a single-chunk run executes keeps (most of) the pace it
    has while the main thread sleeps; were the GIL held for the chunk, it would get at most a
    switch interval or two."""
    net = somata.Network.load(COBA)
    counter = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    th = threading.Thread(target=count, daemon=True)
    th.start()
    try:
        time.sleep(0.05)
        c0, t0 = counter[0], time.perf_counter()
        time.sleep(0.2)
        free_rate = (counter[0] - c0) / (time.perf_counter() - t0)
        steps = 15000
        with pytest.warns(UserWarning):
            c0, t0 = counter[0], time.perf_counter()
            net.run(steps=steps, chunk=steps, threads=1)  # one chunk: no Python between steps
            wall = time.perf_counter() - t0
            during = counter[0] - c0
    finally:
        stop.set()
        th.join()
    assert wall > 0.1, "the run was too short to tell"
    assert during > 0.2 * free_rate * wall, (during, free_rate, wall)


def test_microcircuit_at_small_scale():
    """The Potjans & Diesmann microcircuit from Python: 8 populations of the scaled sizes, every
    one firing at a cortical rate, spikes as events per population."""
    net = somata.microcircuit(scale=0.02, duration="200 ms")
    pops = net.populations()
    assert list(pops) == ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    assert pops["L23E"] == round(20683 * 0.02)
    res = net.run(progress=False)
    for name, p in res.summary["populations"].items():
        assert 0.1 < p["rate_hz"] < 40.0, (name, p)
    t, i = res.spikes("L5E")
    assert len(t) > 0 and i.max() < pops["L5E"]
    with pytest.raises(ValueError, match="background"):
        somata.microcircuit(scale=0.01, background="noise")
    with pytest.raises(ValueError):
        somata.microcircuit(scale=2.0)
