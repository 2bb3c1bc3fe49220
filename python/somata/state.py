"""brainpy.state's network classes, so that a BrainPy network script ports line by line.

A BrainPy network is a module whose ``update`` calls projections and neurons in the order the
user writes::

    class EINet(somata.state.Module):
        def __init__(self):
            super().__init__()
            self.N = somata.LIFRef(4000, V_rest=-60., V_th=-50., V_reset=-60., tau=20., tau_ref=5.,
                                   V_initializer=somata.init.Normal(-55., 2.))
            self.E = somata.state.AlignPostProj(
                comm=somata.state.EventFixedProb(3200, 4000, conn_num=0.02, conn_weight="0.6 mS"),
                syn=somata.state.Expon.desc(4000, tau="5 ms"),
                out=somata.state.COBA.desc(E="0 mV"),
                post=self.N)
            self.I = somata.state.AlignPostProj(
                comm=somata.state.EventFixedProb(800, 4000, conn_num=0.02, conn_weight="6.7 mS"),
                syn=somata.state.Expon.desc(4000, tau="10 ms"),
                out=somata.state.COBA.desc(E="-80 mV"),
                post=self.N)

        def update(self, t, inp):
            with somata.environ.context(t=t):
                spk = self.N.get_spike() != 0.
                self.E(spk[:3200])
                self.I(spk[3200:])
                self.N(inp)
                return self.N.get_spike()

    net = EINet()
    somata.state.init_all_states(net)
    times = np.arange(0., 1000., somata.environ.get_dt())
    spikes = somata.state.for_loop(lambda t: net.update(t, 20.), times)   # [steps, 4000]

``for_loop`` runs ``update`` once symbolically (a *trace*, as ``jax.jit`` does): ``get_spike()``
gives a reference to a population's spikes (sliceable, ``!= 0`` allowed), calling a projection
records which population and range feed it and whether it reads this step's spikes or the
previous step's, calling a neuron records its input (a constant, or an argument of
``for_loop`` that varies per step). The trace becomes a network description (the network file
format) that the engine runs for all steps with the GIL released; what ``update`` returns
(spikes, ``neuron.V`` and other states, tuples or dicts of them) comes back stacked over time
as numpy arrays. A second ``for_loop`` over the same module continues from where the first
stopped, as BrainPy's does; ``init_all_states``/``reset_all_states`` start over.

Supported: populations of any built-in model; ``AlignPostProj`` (Expon, DualExpon, Alpha
synapses; COBA, CUBA, MgBlock outputs; a delay), ``CurrentProj``, ``DeltaProj``,
``align_pre_projection`` and ``align_post_projection`` (with ``STP``/``STD``); communication by
``EventFixedProb`` (BrainPy's fixed number of targets per presynaptic neuron:
``int(conn_num · n_post)`` for a float), ``FixedProb`` (each pair with probability ``p``),
``AllToAll``, ``OneToOne`` and ``Linear``/``Dense`` (an explicit ``[pre, post]`` matrix); inputs
that are constants, per-neuron arrays or per-step arguments, and ``PoissonInput`` onto a state
(``neuron.prefetch('V')``). Anything else in ``update`` (arithmetic
on spikes, a Python branch on their values) is refused with a ``TypeError`` naming it: the
values only exist inside the engine's run.
"""

import numpy as np

from ._units import file_value, is_quantity, to_pair
from .environ import get_dt
from .network import Network
from .neurons import Neuron, model_info


class Module:
    """A container of neurons and projections with an ``update`` (brainstate.nn.Module)."""


DynamicsGroup = Module


# -- the trace ---------------------------------------------------------------------------------
class _Trace:
    def __init__(self):
        self.active = False
        self.pops = []  # Neuron objects, in order of first use
        self.updated = []  # populations in update order
        self.projs = []  # (proj, pre SpikeRef, same_step, post_already_updated)
        self.inputs = []  # (neuron, value or _Arg)
        self.state_inputs = []  # PoissonInput calls

    def pop(self, n):
        if not any(p is n for p in self.pops):
            self.pops.append(n)
        return n


_TRACE = _Trace()


class _Arg:
    """A per-step argument of ``for_loop`` inside the trace."""

    def __init__(self, k, f=None):
        self.k, self.f = k, f

    def values(self, seq):
        return self.f(seq) if self.f else seq

    def __mul__(self, c):
        return _Arg(self.k, lambda s, c=c, f=self.f: (f(s) if f else s) * c)

    __rmul__ = __mul__

    def __add__(self, c):
        return _Arg(self.k, lambda s, c=c, f=self.f: (f(s) if f else s) + c)

    __radd__ = __add__

    def __getattr__(self, name):
        raise TypeError(f"a per-step argument of for_loop supports only `* c` and `+ c` in a traced update (got .{name})")


class SpikeRef:
    """A population's spikes inside the trace: ``pop.get_spike()``, sliceable."""

    def __init__(self, pop, start=0, stop=None, this_step=False):
        self.pop, self.start = pop, start
        self.stop = pop.num if stop is None else stop
        self.this_step = this_step

    def __getitem__(self, s):
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise TypeError("spikes in a traced update take contiguous slices only (spk[a:b])")
        a, b, _ = s.indices(self.stop - self.start)
        return SpikeRef(self.pop, self.start + a, self.start + b, self.this_step)

    def __ne__(self, other):
        return self

    def __gt__(self, other):
        return self

    def astype(self, *_):
        return self

    @property
    def value(self):
        return self

    def __bool__(self):
        raise TypeError("a Python branch on spikes cannot be traced: the spikes exist only inside the engine's run")

    def __array__(self, *a, **k):
        raise TypeError("spikes in a traced update are references; arithmetic on them is not supported")


class StateRef:
    """A population's state inside the trace (``neuron.V``), for returning from ``update``."""

    def __init__(self, pop, var):
        self.pop, self.var = pop, var

    @property
    def value(self):
        return self

    def __array__(self, *a, **k):
        raise TypeError(f"state `{self.var}` in a traced update is a reference; return it from update to record it")


def _desc_value(v):
    """A constructor value as the network file writes it."""
    return file_value(to_pair(v)) if not isinstance(v, tuple) else _pair_str(v)


def _pair_str(p):
    m, unit = p
    if isinstance(m, (list, tuple, np.ndarray)):
        return {"unit": unit, "values": [float(x) for x in np.ravel(m)]}
    return f"{float(m)!r} {unit}"


# -- synapses, outputs, STP: descriptors ---------------------------------------------------------
class _Described:
    model = None

    def __init__(self, *size, **params):
        self.size = size[0] if size else None
        self.params = params

    @classmethod
    def desc(cls, *size, **params):
        return cls(*size, **params)

    def table(self):
        t = {"model": self.model}
        t.update({k: _desc_value(v) for k, v in self.params.items()})
        return t


class Expon(_Described):
    """Exponential synapse, ``tau`` (default 8 ms)."""

    model = "Expon"


class DualExpon(_Described):
    """Difference of exponentials, ``tau_decay``, ``tau_rise``, ``A``."""

    model = "DualExpon"


class Alpha(_Described):
    """Alpha synapse, ``tau``."""

    model = "Alpha"


class AMPA(_Described):
    """AMPA receptor (align-pre)."""

    model = "AMPA"


class GABAa(_Described):
    """GABA_A receptor (align-pre)."""

    model = "GABAa"


class BioNMDA(_Described):
    """Biological NMDA receptor (align-pre)."""

    model = "BioNMDA"


class COBA(_Described):
    """Conductance output ``g·(E − V)``, ``E``."""

    model = "COBA"


class CUBA(_Described):
    """Current output ``g·scale``, ``scale`` (default 1 V)."""

    model = "CUBA"


class MgBlock(_Described):
    """NMDA's magnesium block output."""

    model = "MgBlock"


class STP(_Described):
    """Short-term plasticity (Tsodyks–Markram): ``U``, ``tau_f``, ``tau_d``."""

    model = "STP"


class STD(_Described):
    """Short-term depression: ``tau``, ``U``."""

    model = "STD"


# -- communication ---------------------------------------------------------------------------------
class _Comm:
    def conn(self):
        raise NotImplementedError


class EventFixedProb(_Comm):
    """brainstate's ``EventFixedProb``: each presynaptic neuron connects to ``int(conn_num·n_post)``
    postsynaptic neurons (a float) or ``conn_num`` (an int), weight ``conn_weight``."""

    def __init__(self, in_size, out_size, conn_num, conn_weight, seed=None, efferent_target="post", allow_multi_conn=True, **_):
        self.n_pre, self.n_post = int(np.prod(in_size)), int(np.prod(out_size))
        self.conn_num, self.weight, self.seed, self.target = conn_num, conn_weight, seed, efferent_target

    def conn(self):
        if self.target == "post":
            k = int(self.n_post * self.conn_num) if isinstance(self.conn_num, float) else int(self.conn_num)
            t = {"type": "fixed_out_degree", "degree": k}
        else:
            k = int(self.n_pre * self.conn_num) if isinstance(self.conn_num, float) else int(self.conn_num)
            t = {"type": "fixed_in_degree", "degree": k}
        t["weight"] = _desc_value(self.weight)
        if self.seed is not None:
            t["seed"] = int(self.seed)
        return t


EventFixedNumConn = EventFixedProb
FixedNumConn = EventFixedProb


class FixedProb(_Comm):
    """Each pair connected with probability ``prob`` (``include_self=False`` drops i → i)."""

    def __init__(self, in_size, out_size, prob, weight, seed=None, include_self=True, **_):
        self.prob, self.weight, self.seed, self.include_self = prob, weight, seed, include_self

    def conn(self):
        t = {"type": "fixed_prob", "prob": float(self.prob), "weight": _desc_value(self.weight)}
        if self.seed is not None:
            t["seed"] = int(self.seed)
        if not self.include_self:
            t["no_self"] = True
        return t


class AllToAll(_Comm):
    """Every pair, one weight."""

    def __init__(self, in_size, out_size, w, **_):
        self.w = w

    def conn(self):
        return {"type": "all_to_all", "weight": _desc_value(self.w)}


class OneToOne(_Comm):
    """Neuron i → neuron i, one weight."""

    def __init__(self, in_size, w, **_):
        self.w = w

    def conn(self):
        return {"type": "one_to_one", "weight": _desc_value(self.w)}


class Linear(_Comm):
    """An explicit weight matrix ``[pre, post]`` (brainstate.nn.Linear's ``weight``; a bias is
    not supported in a projection)."""

    def __init__(self, in_size, out_size, w_init, b_init=None, **_):
        if b_init is not None:
            raise TypeError("Linear in a projection: a bias has no counterpart in somata's projections")
        self.w = w_init

    def conn(self):
        w = to_pair(self.w)
        if isinstance(w, tuple):
            return {"type": "dense", "unit": w[1], "values": np.asarray(w[0], dtype=np.float64).tolist()}
        return {"type": "dense", "values": np.asarray(w, dtype=np.float64).tolist()}


Dense = Linear


# -- projections ---------------------------------------------------------------------------------
class _Proj:
    kind = "align_post"

    def __init__(self, *modules, comm, post, syn=None, out=None, delay=None, stp=None, name=None, label=None):
        self.modules, self.comm, self.post, self.syn, self.out = modules, comm, post, syn, out
        self.delay, self.stp, self.name = delay, stp, name
        if not isinstance(post, Neuron):
            raise TypeError(f"{type(self).__name__}: post must be a somata neuron layer, got {type(post).__name__}")

    def __call__(self, *args):
        if not _TRACE.active:
            raise TypeError(f"{type(self).__name__} runs inside somata.state.for_loop (a traced update)")
        src = args[0] if args else (self.modules[-1] if self.modules else None)
        if callable(src) and not isinstance(src, SpikeRef):
            src = src()
        if not isinstance(src, SpikeRef):
            raise TypeError(f"{type(self).__name__}: expected spikes (pop.get_spike() or a slice of it), got {type(src).__name__}")
        post_done = any(p is self.post for p in _TRACE.updated)
        _TRACE.pop(self.post)
        _TRACE.projs.append((self, src, post_done))

    update = __call__

    def table(self, names, src, post_done):
        t = {"pre": names[id(src.pop)], "post": names[id(self.post)], "kind": self.kind}
        if (src.start, src.stop) != (0, src.pop.num):
            t["pre_range"] = [src.start, src.stop]
        if src.this_step:
            t["same_step"] = True
        if self.syn is not None:
            t["synapse"] = self.syn.table()
        if self.out is not None:
            t["output"] = self.out.table()
        if self.stp is not None:
            t["stp"] = self.stp.table()
        t["conn"] = self.comm.conn()
        delay = 0.0 if self.delay is None else self.delay
        if post_done:
            # called after its post updated: BrainPy's post sees it one step later
            delay = _add_dt(delay)
        if self.delay is not None or post_done:
            t["delay"] = _desc_value(delay)
        if self.name:
            t["name"] = self.name
        return t


def _add_dt(delay):
    from ._units import canonical

    d = canonical(delay, "ms", "delay")
    return (d + get_dt()).tolist() if d.ndim else float(d) + get_dt()


class AlignPostProj(_Proj):
    """brainpy.state's ``AlignPostProj(*modules, comm, syn, out, post, delay=None)``: spikes → comm
    → a postsynaptic synapse (Expon, DualExpon, Alpha) → output (COBA, CUBA, MgBlock) into ``post``."""

    kind = "align_post"


class CurrentProj(_Proj):
    """``CurrentProj(*prefetch, comm, out, post, delay=None)``: comm's value bound to the output for
    the step (no synapse dynamics)."""

    kind = "current"


class DeltaProj(_Proj):
    """``DeltaProj(*prefetch, comm, post)``: comm's value added to V after integration."""

    kind = "delta"


def align_post_projection(*spike_generator, comm, syn, out, post, stp=None, delay=None, name=None):
    """``align_post_projection(*gen, comm, syn, out, post, stp=None)``."""
    return AlignPostProj(*spike_generator, comm=comm, syn=syn, out=out, post=post, stp=stp, delay=delay, name=name)


class _AlignPre(_Proj):
    kind = "align_pre"


def align_pre_projection(*spike_generator, syn, comm, out, post, stp=None, delay=None, name=None):
    """``align_pre_projection(*gen, syn, comm, out, post, stp=None)``: a synapse per presynaptic
    neuron (Expon, DualExpon, Alpha, AMPA, GABAa, BioNMDA) whose conductance is projected."""
    return _AlignPre(*spike_generator, comm=comm, syn=syn, out=out, post=post, stp=stp, delay=delay, name=name)


class PoissonInput:
    """brainpy.state's ``PoissonInput(target, indices, num_input, freq, weight)``: ``num_input``
    Poisson sources at ``freq`` per neuron, each spike adding ``weight`` to the target state
    (``neuron.prefetch('V')``) before the neuron updates; call ``update()`` in ``update`` before
    the neuron, as BrainPy's scripts do. ``indices`` must be ``None`` (all neurons)."""

    def __init__(self, target, indices, num_input, freq, weight, name=None):
        if not isinstance(target, StateRef):
            raise TypeError("PoissonInput: target must be neuron.prefetch('V') (a state of a somata neuron layer)")
        if indices is not None:
            raise TypeError("PoissonInput: indices are not supported (the input reaches every neuron of the target)")
        self.target, self.num_input, self.freq, self.weight, self.name = target, int(num_input), freq, weight, name

    def __call__(self):
        if not _TRACE.active:
            raise TypeError("PoissonInput runs inside somata.state.for_loop (a traced update)")
        n = self.target.pop
        if any(p is n for p in _TRACE.updated):
            raise TypeError("PoissonInput: call it before its target neuron's update, as BrainPy's scripts do")
        _TRACE.pop(n)
        _TRACE.state_inputs.append(self)

    update = __call__

    def table(self, names):
        from ._units import canonical

        rate = canonical(self.freq, "kHz", "PoissonInput freq") * 1e3 if not isinstance(self.freq, (int, float)) else float(self.freq)
        return {
            "target": names[id(self.target.pop)],
            "type": "poisson",
            "state": self.target.var,
            "rate": float(rate),
            "count": self.num_input,
            "weight": _desc_value(self.weight),
        }


# -- neurons inside the trace --------------------------------------------------------------------
def _neuron_update(n, x):
    if any(p is n for p in _TRACE.updated):
        raise TypeError(f"{n.model} is updated twice in one traced step")
    _TRACE.pop(n)
    _TRACE.updated.append(n)
    _TRACE.inputs.append((n, x))
    return SpikeRef(n, this_step=True)


def _neuron_spike(n):
    _TRACE.pop(n)
    return SpikeRef(n, this_step=any(p is n for p in _TRACE.updated))


def _population_table(n, name):
    info = model_info(n.model)
    init_names = {s["initializer"]: state for state, s in info["states"].items() if s["initializer"]}
    params, init = {}, {}
    for k, v in n._spec["params"].items():
        if k in init_names:
            init[init_names[k]] = _init_value(v)
        elif isinstance(v, bool):
            params[k] = v
        elif isinstance(v, tuple):
            params[k] = _pair_str(v)
        elif isinstance(v, list):
            params[k] = {"values": [float(x) for x in v]}
        else:
            params[k] = v
    t = {"name": name, "model": n.model, "size": n.num}
    if params:
        t["params"] = params
    if init:
        t["init"] = init
    if n._spec["spk_reset"]:
        t["spk_reset"] = n._spec["spk_reset"]
    t["seed"] = int(n._spec["seed"])
    return t


def _init_value(v):
    if isinstance(v, tuple) and v and v[0] in ("Constant", "Uniform", "Normal"):
        args = [_pair_str(a) if isinstance(a, tuple) else a for a in v[1:]]
        if v[0] == "Constant":
            return args[0]
        return {v[0].lower(): args}
    if isinstance(v, tuple):
        return _pair_str(v)
    if isinstance(v, list):
        return {"values": [float(x) for x in v]}
    return v


# -- compiling and running ---------------------------------------------------------------------------
_CACHE = {}


def _flatten(out):
    """The references in what update returns, and how to rebuild it."""
    if isinstance(out, (SpikeRef, StateRef)):
        return [out], lambda vs: vs[0]
    if out is None:
        return [], lambda vs: None
    if isinstance(out, (tuple, list, dict)):
        keys = list(out) if isinstance(out, dict) else range(len(out))
        parts = [_flatten(out[k]) for k in keys]
        refs = [r for p in parts for r in p[0]]

        def build(vs, kind=type(out)):
            res, k = [], 0
            for rs, b in parts:
                res.append(b(vs[k : k + len(rs)]))
                k += len(rs)
            return dict(zip(keys, res)) if kind is dict else kind(res)

        return refs, build
    raise TypeError(f"update returned {type(out).__name__}; return spikes, states, or tuples/dicts of them")


def _compile(fn, xs, seed):
    _TRACE.__init__()
    _TRACE.active = True
    try:
        out = fn(*[_Arg(k) for k in range(len(xs))])
    finally:
        _TRACE.active = False
    refs, build = _flatten(out)
    for r in refs:
        _TRACE.pop(r.pop)
    pops = list(_TRACE.pops)
    names, used = {}, set()
    for k, p in enumerate(pops):
        base = p._spec.get("name") or f"{p.model}{k}"
        name = base if base not in used else f"{base}_{k}"
        used.add(name)
        names[id(p)] = name
    d = {"dt": get_dt(), "steps": 0, "seed": int(seed)}
    d["population"] = [_population_table(p, names[id(p)]) for p in pops]
    projs = [proj.table(names, src, post_done) for proj, src, post_done in _TRACE.projs]
    if projs:
        d["projection"] = projs
    order = [names[id(p)] for p in _TRACE.updated] + [names[id(p)] for p in pops if not any(p is q for q in _TRACE.updated)]
    d["order"] = order
    inputs, per_step = [], []
    for n, x in _TRACE.inputs:
        if isinstance(x, _Arg):
            per_step.append((n, x))
        elif x is None:
            continue
        else:
            from ._units import canonical

            v = canonical(x, n.input_unit, f"input of {n.model}")
            if v.ndim == 0:
                if float(v) != 0.0:
                    inputs.append({"target": names[id(n)], "value": float(v)})
            else:
                inputs.append({"target": names[id(n)], "values": np.broadcast_to(v, (n.num,)).astype(float).tolist()})
    for pi in _TRACE.state_inputs:
        inputs.append(pi.table(names))
    monitors = []
    for k, r in enumerate(refs):
        if isinstance(r, SpikeRef):
            m = {"name": f"out{k}", "population": names[id(r.pop)], "var": "spike", "format": "dense"}
        else:
            m = {"name": f"out{k}", "population": names[id(r.pop)], "var": r.var}
        if (getattr(r, "start", 0), getattr(r, "stop", r.pop.num)) != (0, r.pop.num):
            m["neurons"] = list(range(r.start, r.stop))
        monitors.append(m)
    if monitors:
        d["monitor"] = monitors
    return d, inputs, per_step, refs, build, names


def for_loop(fn, *xs, seed=0, progress=None):
    """Run ``fn`` for every step: ``fn(*[x[k] for x in xs])`` at step ``k`` (brainstate's
    ``for_loop``), traced once and run by the engine. Returns what ``fn`` returns, stacked over
    the steps (numpy arrays: spikes float32 ``[steps, n]``, states float32 ``[steps, n]``)."""
    xs = [x if not is_quantity(x) else np.asarray(x.mantissa) for x in xs]
    steps = len(xs[0]) if xs else None
    if steps is None:
        raise TypeError("for_loop needs at least one sequence (e.g. the times) to know the number of steps")
    d, inputs, per_step, refs, build, names = _compile(fn, xs, seed)
    key = (getattr(fn, "__self__", None) and id(fn.__self__), getattr(fn, "__code__", None), _signature(d))
    net = _CACHE.get(key)
    if net is None:
        base = dict(d)
        base["input"] = list(inputs)
        for n, a in per_step:
            vals = a.values(np.asarray(xs[a.k], dtype=np.float64))
            vals = np.broadcast_to(np.asarray(vals, dtype=np.float64).reshape(steps, -1), (steps, n.num))
            base["input"].append({"target": names[id(n)], "type": "per_step", "values": vals.tolist()})
        if not base["input"]:
            del base["input"]
        net = Network(base)
        _CACHE.clear()
        _CACHE[key] = net
    elif per_step:
        raise TypeError("a continued for_loop with per-step inputs: call somata.state.reset_all_states(module) first")
    res = net.run(steps=steps, progress=progress)
    vals = []
    for k, r in enumerate(refs):
        a = res.monitor(f"out{k}")[-steps:]
        vals.append(np.asarray(a))
    return build(vals)


def _signature(d):
    import json

    return json.dumps(d, sort_keys=True, default=str)


def init_all_states(module, batch_size=None):
    """Start over: the next ``for_loop`` builds the network afresh (its initializers apply)."""
    _CACHE.clear()
    return module


reset_all_states = init_all_states


def _install():
    from . import neurons

    neurons._tracer = _TRACE, _neuron_update, _neuron_spike, StateRef


_install()
