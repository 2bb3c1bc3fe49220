"""Neuron layers as brainpy.state writes them: ``somata.LIF(100, tau="10 ms", V_th=-50.0)``.

Every built-in model is a class of this module under its BrainPy name (``LIF``, ``LIFRef``,
``ALIF``, ``ExpIF``, ``AdExIF``, ``HH``, ``Izhikevich``, ... ``somata.models()`` lists them),
with BrainPy's parameter names. Values are floats in canonical units (ms, mV, mA, S, ...),
``"10 ms"`` strings, or brainunit quantities; initializers are ``somata.init.Constant``,
``Uniform``, ``Normal`` or arrays. The layer keeps its own clock: ``init_state``/``reset_state``
put it at t = 0 with ``somata.environ``'s ``dt``, and each ``update`` advances it by one step.
"""

import numpy as np

from . import _somata
from ._units import canonical, to_pair
from .environ import get_dt


# set by somata.state: (trace, on update, on get_spike, StateRef) for traced network steps
_tracer = None


def _tracing():
    return _tracer is not None and _tracer[0].active


class Initializer:
    """A state initializer (braintools.init's ``Constant``, ``Uniform``, ``Normal``); ``unit``
    names the unit of bare numbers (``Normal(-55., 2., unit="mV")``, as braintools' ``unit=``)."""

    def __init__(self, kind, *args, unit=None):
        self.kind = kind
        if unit is not None:
            from ._units import unit_str

            u = unit if isinstance(unit, str) else unit_str(unit)
            args = tuple((a, u) if isinstance(a, (int, float)) else a for a in args)
        self.args = tuple(to_pair(a) for a in args)

    def as_tuple(self):
        return (self.kind,) + self.args

    def __repr__(self):
        return f"{self.kind}({', '.join(map(repr, self.args))})"


class _InitNS:
    @staticmethod
    def Constant(value, unit=None):
        """Every neuron starts at ``value``."""
        return Initializer("Constant", value, unit=unit)

    @staticmethod
    def Uniform(low, high, unit=None):
        """Uniform in ``[low, high)``, per neuron, from the layer's seed."""
        return Initializer("Uniform", low, high, unit=unit)

    @staticmethod
    def Normal(mean, std, unit=None):
        """Normal, per neuron, from the layer's seed."""
        return Initializer("Normal", mean, std, unit=unit)


init = _InitNS()


def _param_value(v):
    if isinstance(v, Initializer):
        return v.as_tuple()
    if isinstance(v, np.ndarray):
        return np.asarray(v, dtype=np.float64).ravel().tolist()
    return to_pair(v)


def _surrogate(spk_fun):
    """A surrogate as the core takes it: a name, ``(name, {params})``, or an object of
    ``somata.surrogate`` / braintools (its class name and its numeric attributes)."""
    if spk_fun is None or isinstance(spk_fun, (str, tuple)):
        return spk_fun
    name = type(spk_fun).__name__
    params = {}
    for k, v in vars(spk_fun).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("_"):
            params[k] = float(v)
    return (name, params)


class Neuron:
    """A layer of ``in_size`` neurons of one model (brainpy.state's ``Neuron``).

    ``spk_fun``: a surrogate (``"Sigmoid"``, ``("Sigmoid", {"alpha": 4.0})``,
    ``somata.surrogate.Sigmoid(alpha=4.0)``); ``spk_reset``: ``"soft"`` or ``"hard"``;
    ``seed``: of random initializers; every other keyword is a model parameter or a state
    initializer (``V_initializer``) by BrainPy's name.
    """

    model = None

    def __init__(self, in_size, spk_fun=None, spk_reset=None, name=None, seed=0, **params):
        if self.model is None:
            raise TypeError("use a model class (somata.LIF, ...) or somata.neuron(model, ...)")
        shape = (int(in_size),) if np.ndim(in_size) == 0 else tuple(int(s) for s in in_size)
        conv = {k: _param_value(v) for k, v in params.items()}
        sg = _surrogate(spk_fun)
        object.__setattr__(self, "_spec", dict(params=conv, spk_fun=sg, spk_reset=spk_reset, seed=seed, name=name))
        object.__setattr__(self, "_layer", _somata.Layer(self.model, list(shape), conv, sg, spk_reset, seed, name, get_dt()))
        object.__setattr__(self, "_info", model_info(self.model))

    # -- shape and metadata --------------------------------------------------------------
    @property
    def in_size(self):
        return tuple(self._layer.in_size)

    @property
    def varshape(self):
        return self.in_size

    @property
    def num(self):
        """Number of neurons."""
        return self._layer.num

    @property
    def batch_size(self):
        return self._layer.batch_size

    @property
    def spk_reset(self):
        return self._layer.spk_reset

    @property
    def state_names(self):
        return list(self._layer.state_names)

    @property
    def input_unit(self):
        """The canonical unit of ``update``'s input (``"mA"`` for current-driven models)."""
        return self._layer.input_unit

    @property
    def dt(self):
        """The time step (ms) of the layer's clock."""
        return self._layer.dt

    @property
    def t(self):
        """The layer's time (ms): steps since init/reset × dt."""
        return self._layer.step * self._layer.dt

    # -- brainpy.state's API -------------------------------------------------------------
    def init_state(self, batch_size=None, **kwargs):
        """Create the state (``batch_size=None``: no batch axis); the clock restarts at t = 0
        with ``somata.environ``'s ``dt``."""
        self._layer.init_state(batch_size, get_dt())

    def reset_state(self, batch_size=None, **kwargs):
        """Reset the state to its initializers and the clock to t = 0."""
        self._layer.reset_state(batch_size, get_dt())

    def update(self, x=0.0):
        """One step with input ``x`` (one value, one per neuron, or one per element; floats in
        ``input_unit``, strings or quantities converted); returns the spikes (float32)."""
        if _tracing():
            return _tracer[1](self, x)
        xs = canonical(x, self.input_unit, f"input of {self.model}")
        return self._layer.update(np.ascontiguousarray(xs, dtype=np.float64).ravel())

    __call__ = update

    def prefetch(self, name):
        """A reference to the state ``name`` for ``somata.state.PoissonInput(target=...)``
        (brainstate's ``module.prefetch('V')``)."""
        if name not in self._layer.state_names:
            raise ValueError(f"{self.model} has no state `{name}`; its states are: {', '.join(self._layer.state_names)}")
        from .state import StateRef

        return StateRef(self, name)

    def get_spike(self):
        """The spikes of the current state (float32)."""
        if _tracing():
            return _tracer[2](self)
        return self._layer.get_spike()

    # -- whole sequences -----------------------------------------------------------------
    def _seq(self, inputs, steps, duration):
        """``(flat float64 input, steps, constant)``: with ``steps``/``duration`` the input is
        held over every step; without, its first axis is time."""
        if duration is not None:
            from ._units import to_ms

            if steps is not None:
                raise ValueError("give `steps` or `duration`, not both")
            steps = int(round(to_ms(duration, "duration") / self.dt))
        x = canonical(inputs, self.input_unit, f"input of {self.model}")
        elems = self.num * (self.batch_size or 1)
        if steps is not None:
            if x.size not in (1, self.num, elems):
                raise ValueError(
                    f"input of {self.model}: a constant input has 1, {self.num} (one per neuron) or {elems} (one per element) values, got shape {x.shape}"
                )
            return np.ascontiguousarray(x, dtype=np.float64).ravel(), int(steps), True
        if x.ndim == 0:
            raise ValueError("a constant input needs `steps` or `duration`")
        T = x.shape[0]
        per = x[0].size
        if per == 1:
            x = np.repeat(x.reshape(T, 1), self.num, axis=1)
        elif per not in (self.num, elems):
            raise ValueError(
                f"input of {self.model}: each step has {per} values; expected 1, {self.num} (one per neuron) or {elems} (one per element)"
            )
        return np.ascontiguousarray(x, dtype=np.float64).ravel(), T, False

    def run(self, inputs, steps=None, duration=None, record=(), counts=False, chunk=10000):
        """Run a whole sequence from the current state (GIL released, Ctrl-C between chunks).

        ``inputs``: ``[T, ...]`` (each step one value, one per neuron or one per element); or,
        with ``steps`` or ``duration``, one value / one per neuron / one per element held over
        every step. ``record``: state names (or ``"*"``). Returns the spikes ``[T, *shape]``
        (uint8), or with ``counts=True`` the spike counts ``[*shape]`` (no raster kept); and
        ``(spikes, {state: float32 [T, *shape]})`` when ``record`` names states.
        """
        x, T, const = self._seq(inputs, steps, duration)
        if isinstance(record, str):
            record = [record]
        spikes, states = self._layer.run(x, T, list(record), int(chunk), const, not counts)
        return (spikes, states) if record else spikes

    def grad(self, inputs, loss_weight, params=(), steps=None):
        """Surrogate gradients of ``L = Σ loss_weight · spikes`` over a run from the current
        state (BPTT through the model's exact update): returns a dict with ``spikes``,
        ``input`` (∂L/∂input per canonical input unit) and ``∂L/∂p`` for each name in ``params``
        (per canonical unit), for your own optimiser."""
        x, T, const = self._seq(inputs, steps, None)
        if const:
            x = np.ascontiguousarray(np.broadcast_to(x, (T, x.size) if x.size > 1 else (T, self.num)), dtype=np.float64).ravel()
        w = np.ascontiguousarray(loss_weight, dtype=np.float32).ravel()
        return self._layer.grad(x, T, w, list(params))

    # -- states and parameters as attributes ---------------------------------------------
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        layer = object.__getattribute__(self, "_layer")
        if name in layer.state_names:
            if _tracing():
                return _tracer[3](self, name)
            return layer.get_state(name)
        try:
            v = layer.get_param(name)
        except ValueError:
            raise AttributeError(f"{type(self).__name__} has no state or parameter `{name}`") from None
        return v[0] if len(v) == 1 else np.asarray(v)

    def __setattr__(self, name, value):
        if not name.startswith("_") and name in self._layer.state_names:
            unit = self._info["states"][name]["unit"]
            v = canonical(value, unit, f"state {name}")
            shape = self._layer.get_state(name).shape
            try:
                full = np.broadcast_to(v, shape)
            except ValueError:
                raise ValueError(f"state {name}: values of shape {v.shape} do not broadcast to the state's {shape}") from None
            self._layer.set_state(name, np.ascontiguousarray(full, dtype=np.float32).ravel())
            return
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"{self.model}(in_size={self.in_size}, spk_reset={self.spk_reset!r})"


def model_info(model):
    """A model's parameters (name → dimension, default in the canonical unit, unit), states
    (name → unit, initializer argument), input unit and default reset."""
    params, states, input_unit, reset = _somata.model_info(model)
    return {
        "params": {n: {"dimension": d, "default": v, "unit": u} for n, d, v, u in params},
        "states": {n: {"unit": u, "initializer": i} for n, u, i in states},
        "input_unit": input_unit,
        "spk_reset": reset,
    }


def neuron(model, in_size, **kwargs):
    """A layer of the model named ``model`` (BrainPy's class name)."""
    if model not in MODELS:
        raise ValueError(f"unknown model `{model}`; known: {', '.join(MODELS)}")
    return MODELS[model](in_size, **kwargs)


def _make(name):
    info = model_info(name)
    ps = ", ".join(f"{p} ({d['unit']}, default {d['default']:g})" for p, d in info["params"].items())
    doc = (
        f"brainpy.state.{name} on somata's engine.\n\nParameters (canonical units): {ps}.\n"
        f"States: {', '.join(info['states'])}. Input: {info['input_unit']}. Default reset: {info['spk_reset']}."
    )
    return type(name, (Neuron,), {"model": name, "__doc__": doc, "__module__": "somata"})


MODELS = {n: _make(n) for n in _somata.model_names()}
