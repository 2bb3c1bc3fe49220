"""Networks: from a network file, TOML text, a dictionary, or Python objects that mirror the
file format (docs/network-format.md).

>>> net = somata.Network.load("ei.toml")                     # doctest: +SKIP
>>> res = net.run("1000 ms")                                  # doctest: +SKIP
>>> t, i = res.spikes("E_spike")                              # doctest: +SKIP

A dictionary has the file's structure: ``{"dt": "0.1 ms", "duration": "100 ms",
"population": [{"name": "E", "model": "LIFRef", "size": 3200, ...}], "projection": [...],
"input": [...], "monitor": [...]}``; ``Population``, ``Projection``, ``Input``, ``Monitor`` and
``GapJunction`` build its entries with keyword arguments (quantities become ``"<v> <unit>"``).
"""

import json
import os
import sys

import numpy as np

from . import _somata
from ._units import file_value, to_ms


class _Entry(dict):
    """One table of the file (a dict), built from keyword arguments."""

    def __init__(self, **kw):
        super().__init__({k: file_value(v) for k, v in kw.items() if v is not None})


class Population(_Entry):
    """``[[population]]``: ``Population(name="E", model="LIFRef", size=3200, V_th="-50 mV", ...)``."""


class Projection(_Entry):
    """``[[projection]]``: ``Projection(pre="E", post="I", conn={...}, synapse="Expon", ...)``."""


class Input(_Entry):
    """``[[input]]``: ``Input(target="E", value="20 mA", ...)`` or a Poisson source."""


class Monitor(_Entry):
    """``[[monitor]]``: ``Monitor(name="V", population="E", var="V", neurons=[0, 1])``."""


class GapJunction(_Entry):
    """``[[gap_junction]]``."""


def description(dt, duration=None, steps=None, populations=(), projections=(), inputs=(), monitors=(), gap_junctions=(), **top):
    """The dictionary of a network file from Python objects."""
    d = {"dt": file_value(dt)}
    if duration is not None:
        d["duration"] = file_value(duration)
    if steps is not None:
        d["steps"] = int(steps)
    for key, items in (
        ("population", populations),
        ("projection", projections),
        ("input", inputs),
        ("monitor", monitors),
        ("gap_junction", gap_junctions),
    ):
        if items:
            d[key] = [file_value(dict(x)) for x in items]
    d.update({k: file_value(v) for k, v in top.items() if v is not None})
    return d


def _progress_bar(total):
    """A tqdm bar where a terminal or a notebook is attached (and tqdm is installed), else None."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    in_notebook = "ipykernel" in sys.modules
    if not (in_notebook or sys.stderr.isatty()):
        return None
    return tqdm(total=total, unit="step", leave=False)


class Result:
    """What a run leaves: the summary and the monitors of the network (read after the run)."""

    def __init__(self, net, summary):
        self._net = net
        self.summary = summary

    def __getitem__(self, key):
        return self.summary[key]

    def spikes(self, monitor):
        """A spike monitor's events as ``(t, i)``: times in ms (float64) and neuron indices."""
        return self._net.spikes(monitor)

    def monitor(self, name):
        """A dense monitor's samples ``[samples, columns]`` (float32, canonical units)."""
        return self._net.monitor(name)

    def __repr__(self):
        return f"Result({self.summary!r})"


class Network:
    """A network of populations, projections, inputs and monitors on one clock."""

    def __init__(self, description=None, *, dir=".", name="network", _core=None, **kw):
        if _core is None:
            if description is None:
                description = globals()["description"](**kw)
            elif kw:
                raise TypeError("give a description dict or keyword arguments, not both")
            _core = _somata.Network.from_json(json.dumps(file_value(description)), os.fspath(dir), name)
        self._core = _core
        self._warned = 0

    @classmethod
    def load(cls, path):
        """Read and build a network file (TOML)."""
        return cls(_core=_somata.Network.load(os.fspath(path)))

    @classmethod
    def from_toml(cls, text, dir=".", name="network"):
        """Build from TOML text (relative data paths from ``dir``)."""
        return cls(_core=_somata.Network.from_toml(text, os.fspath(dir), name))

    @classmethod
    def from_dict(cls, d, dir=".", name="network"):
        """Build from a dictionary with the file's structure."""
        return cls(d, dir=dir, name=name)

    # -- metadata ---------------------------------------------------------------------------
    @property
    def name(self):
        return self._core.name

    @property
    def dt(self):
        """The time step, ms."""
        return self._core.dt

    @property
    def t(self):
        """Simulated time so far, ms."""
        return self._core.step * self._core.dt

    @property
    def default_steps(self):
        """The steps the description asks for (``duration / dt`` or ``steps``)."""
        return self._core.default_steps

    def populations(self):
        """``{name: size}``."""
        return dict(self._core.populations())

    def monitors(self):
        """``{name: {population, var, columns, every, samples, dense, events, files}}``."""
        keys = ("population", "var", "columns", "every", "samples", "dense", "events", "files")
        return {m[0]: dict(zip(keys, m[1:])) for m in self._core.monitor_info()}

    # -- running ----------------------------------------------------------------------------
    def record_to(self, dir):
        """Stream the monitors into ``dir`` while running (the files of ``somata run --out``)."""
        os.makedirs(dir, exist_ok=True)
        self._core.record_to(os.fspath(dir))

    def run(self, duration=None, steps=None, progress=None, chunk=2000, threads=None):
        """Run ``duration`` (ms, ``"1 s"``, a quantity) or ``steps`` steps (default: the
        description's), GIL released, in chunks between which Ctrl-C stops the run
        (``KeyboardInterrupt``; the steps run so far stay run and recorded). ``progress``:
        ``True``/``False`` for a tqdm bar (default: where a terminal or notebook is attached),
        or a callable ``f(steps_done, steps)``. Returns a :class:`Result`."""
        if duration is not None:
            steps = int(round(to_ms(duration, "duration") / self.dt))
        if steps is None:
            steps = self.default_steps
        if threads is not None:
            self._core.set_threads(int(threads))
        bar, cb = None, None
        if callable(progress):
            cb = lambda k: progress(k, steps)  # noqa: E731
        elif progress is None or progress:
            bar = _progress_bar(steps) if progress is None else (_progress_bar(steps) or None)
            if bar is not None:
                last = [0]

                def cb(k):
                    bar.update(k - last[0])
                    last[0] = k

        import time

        t0 = time.perf_counter()
        try:
            done, spikes, initial, events, fused, threads_used = self._core.run(int(steps), int(chunk), cb)
        finally:
            if bar is not None:
                bar.close()
        wall_ms = (time.perf_counter() - t0) * 1e3
        dur_s = done * self.dt / 1e3
        pops = {}
        for (name, size), s, s0 in zip(self._core.populations(), spikes, initial):
            # as summary.json: `spikes` includes the initial state's, the rate is the run's
            pops[name] = {
                "size": size,
                "spikes": int(s + s0),
                "initial_spikes": int(s0),
                "rate_hz": s / (size * dur_s) if size and dur_s > 0 else 0.0,
            }
        summary = {
            "name": self.name,
            "dt_ms": self.dt,
            "steps": done,
            "duration_ms": done * self.dt,
            "wall_ms": wall_ms,
            "synaptic_events": int(events),
            "fused": fused,
            "threads": threads_used,
            "populations": pops,
        }
        import warnings

        ws = self._core.warnings()
        for w in ws[self._warned :]:
            warnings.warn(w, stacklevel=2)
        self._warned = len(ws)
        return Result(self, summary)

    # -- monitors and states ----------------------------------------------------------------
    def _file(self, name, suffix):
        m = self.monitors().get(name)
        if m is None:
            return None
        for f in m["files"]:
            if f.endswith(suffix) and (suffix != ".npy" or not f.endswith(".events.npy")):
                return f
        return None

    def spikes(self, monitor):
        """A spike monitor's events as ``(t, i)``: times in ms and neuron indices (the initial
        state's spikes at t = −dt). A monitor streamed by ``record_to`` is read back from its
        ``.events.npy`` file."""
        f = self._file(monitor, ".events.npy")
        if f is not None:
            ev = np.load(f).reshape(-1, 2)
            return ev[:, 0].astype(np.float64) * self.dt, ev[:, 1].astype(np.int64)
        steps, idx = self._core.spike_events(monitor)
        return steps.astype(np.float64) * self.dt, idx

    def monitor(self, name):
        """A dense monitor's samples ``[samples, columns]`` (float32, canonical units); read back
        from its ``.npy`` file when streamed by ``record_to``."""
        f = self._file(name, ".npy")
        if f is not None:
            return np.load(f)
        return self._core.monitor_data(name)

    def state(self, population, var):
        """A population's state variable (float32, canonical unit)."""
        return self._core.get_state(population, var)

    def set_state(self, population, var, values):
        """Overwrite a population's state variable (canonical unit, one value per neuron or one
        for all)."""
        n = self.populations()[population]
        v = np.broadcast_to(np.asarray(values, dtype=np.float32), (n,))
        self._core.set_state(population, var, v.tolist())

    def synapses(self):
        """Number of synapses."""
        return self._core.synapse_stats()[0]

    def __repr__(self):
        return f"Network({self.name!r}, populations={self.populations()})"


def microcircuit(scale=1.0, scale_k=None, background="poisson", seed=55, duration="1000 ms", record_spikes=True):
    """The cortical microcircuit of Potjans & Diesmann (2014) as a :class:`Network`
    (crates/somata/docs/microcircuit.md): ``scale`` multiplies the population sizes (and the
    in-degrees unless ``scale_k`` is given; 1: 77,169 neurons, about 3·10⁸ synapses, 3 GB),
    ``background`` is ``"poisson"`` (8 Hz × K_ext through the synapse) or ``"dc"``; every
    population's spikes are monitored as events (``res.spikes("L4E")``)."""
    text = _somata.microcircuit_toml(
        float(scale), float(scale if scale_k is None else scale_k), background, int(seed), to_ms(duration, "duration"), bool(record_spikes)
    )
    return Network.from_toml(text, name="microcircuit")
