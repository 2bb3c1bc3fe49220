"""NIR (Neuromorphic Intermediate Representation) import and export.

``somata.nir.from_nir(graph_or_path, dt=1.0)`` turns a NIR graph (``nir.NIRGraph`` or an
``.nir`` HDF5 file) into a :class:`somata.nn.Sequential`; ``somata.nir.to_nir(seq)`` does the
reverse, ``somata.nir.write(path, seq)`` writes the file. The ``nir`` package
(``pip install nir``) reads and writes the files.

Conventions
-----------
NIR's nodes are continuous-time ODEs with dimensionless numbers and time in **seconds**. somata
reads a NIR voltage as mV, a current as mA and a resistance as ohm (so ``R·I`` is in mV, as in
the ODE), and a time constant ``tau`` (s) as ``1000·tau`` ms. ``dt`` (ms) is chosen at import:
NIR does not fix it. Each step integrates the ODE exactly for an input held constant over the
step (exponential Euler, as BrainPy): for ``τ v̇ = (v_leak − v) + R I``,
``v ← v_∞ + (v − v_∞)·e^{−dt/τ}`` with ``v_∞ = v_leak + R I``. ``method="euler"`` instead
reproduces forward Euler, ``v ← v + (dt/τ)(v_∞ − v)`` (snnTorch's and Norse's ``β = 1 − dt/τ``),
exactly, by integrating ``τ' = −dt / ln(1 − dt/τ)``. A spike is emitted when
``v ≥ v_threshold`` after the step, and the next step starts from ``v_reset`` (a hard reset;
NIR's reset). The mapping:

=============  ===================================================================================
NIR node       somata layer
=============  ===================================================================================
Input, Output  the network's input and output (their shapes set the widths)
Affine         ``nn.Linear`` with ``W = weight.T`` and ``bias`` (the weights of an ``LI`` right after)
Linear         ``nn.Linear`` without bias (the weights of an ``LI`` right after)
Scale          folded into the Affine/Linear before it, else ``nn.Linear`` with a diagonal weight
LIF            ``LIF(tau=1000·tau ms, R=r, V_rest=v_leak, V_th=v_threshold, V_reset=v_reset)``,
               hard reset
IF             ``v̇ = R I``: ``LIF`` with ``tau = 10⁷ ms`` and ``R = r·10⁴`` (the leak,
               ``dt/10⁷`` per step, is below float32 resolution: a perfect integrator)
CubaLIF        ``nn.LI`` (the synaptic current: ``τ_syn İ = −I + w_in S``, weights ``diag(w_in)``)
               followed by the ``LIF`` of ``tau_mem``
LI             ``nn.LI``: ``τ v̇ = (v_leak − v) + R·(x W + b)`` as weights ``R·W`` and bias
               ``R·b + v_leak``
=============  ===================================================================================

Export writes the same nodes back (an ``nn.LI`` as ``Affine`` + ``LI``; a rate ``nn.Readout`` as
``Affine`` + ``LI`` with ``r = 1/(1 − e^{−dt/τ})``, exact at the network's ``dt``). A somata
network exported and imported again is the same network. What has no NIR node is refused with a
``ValueError`` naming it: soft reset (NIR's reset is hard), models other than LIF and IF, trained
state initializers.
"""

import numpy as np

from . import nn as _nn
from .neurons import MODELS

IF_TAU_MS = 1e7


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - exercised only without nir
        raise ImportError("somata.nir needs the `nir` package: pip install nir") from e
    return nir


def _chain(graph):
    """The nodes of a graph from its Input to its Output, in order (one path, no branches)."""
    nodes, edges = graph.nodes, graph.edges
    nir = _nir()
    succ = {}
    for a, b in edges:
        if a in succ:
            raise ValueError(f"NIR graph: node `{a}` has several successors; somata imports chains (feed-forward stacks)")
        succ[a] = b
    starts = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    if len(starts) != 1:
        raise ValueError(f"NIR graph: expected one Input node, found {len(starts)}")
    order, k = [], starts[0]
    seen = set()
    while True:
        if k in seen:
            raise ValueError("NIR graph: a cycle (recurrent graphs are not imported)")
        seen.add(k)
        order.append((k, nodes[k]))
        if isinstance(nodes[k], nir.Output) or k not in succ:
            break
        k = succ[k]
    if not isinstance(order[-1][1], nir.Output):
        raise ValueError("NIR graph: the chain from the Input does not reach an Output")
    return order


def _arr(v, n=None):
    a = np.asarray(v, dtype=np.float64).ravel()
    if n is not None and a.size == 1 and n > 1:
        a = np.full(n, a[0])
    return a


def _vals(a):
    """One value if all are equal (a shared parameter), else one per neuron."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(a[0]) if np.all(a == a[0]) else a.tolist()


def _tau(tau_ms, dt, method):
    """The time constant somata integrates exactly so that one step equals ``method``'s step of
    the ODE with ``tau_ms``: itself for exponential Euler; for forward Euler
    (``v ← v + dt/τ·(v_∞ − v)``, snnTorch's and Norse's ``β = 1 − dt/τ``) the ``τ'`` with
    ``e^{−dt/τ'} = 1 − dt/τ``."""
    tau_ms = np.asarray(tau_ms, dtype=np.float64)
    if method == "exp_euler":
        return tau_ms
    if method != "euler":
        raise ValueError(f"method must be 'exp_euler' or 'euler', got {method!r}")
    if np.any(tau_ms <= dt):
        raise ValueError(f"method='euler' needs every tau > dt ({dt} ms); got {tau_ms.min()} ms")
    return -dt / np.log1p(-dt / tau_ms)


def from_nir(graph, dt=1.0, method="exp_euler"):
    """A :class:`somata.nn.Sequential` running the NIR graph (or ``.nir`` file) at time step
    ``dt`` (ms). ``method``: how the ODEs become steps: ``"exp_euler"`` (exact for an input held
    over the step; BrainPy's) or ``"euler"`` (forward Euler, ``β = 1 − dt/τ``, as snnTorch and
    Norse step their LIF and LI nodes)."""
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(graph)
    chain = _chain(graph)
    layers = []
    pend = None  # a pending (W [in, out], b [out]) not yet placed
    width = int(np.prod(np.asarray(chain[0][1].input_type["input"]).ravel()))

    def flush():
        nonlocal pend
        if pend is not None:
            W, b = pend
            layers.append(_nn.Linear(W.shape[0], W.shape[1], bias=b is not None, weight=W, b=b))
            pend = None

    def put(W, b):
        """An Affine/Linear node: it waits (an LI right after takes it as its weights)."""
        nonlocal pend
        flush()
        pend = (W, b)

    def lif(n, tau_ms, r, v_leak, v_th, v_reset):
        return MODELS["LIF"](
            n,
            tau=_vals(_tau(tau_ms, dt, method)),
            R=_vals(r),
            V_rest=_vals(v_leak),
            V_th=_vals(v_th),
            V_reset=_vals(v_reset),
            spk_reset="hard",
        )

    for key, node in chain[1:-1]:
        if isinstance(node, nir.Affine):
            W = np.asarray(node.weight, dtype=np.float64)
            put(W.T, np.asarray(node.bias, dtype=np.float64).ravel())
            width = W.shape[0]
        elif isinstance(node, nir.Linear):
            W = np.asarray(node.weight, dtype=np.float64)
            put(W.T, None)
            width = W.shape[0]
        elif isinstance(node, nir.Scale):
            s = _arr(node.scale, width)
            if pend is not None:
                # y = s ⊙ (x W + b): folded into the waiting Affine/Linear
                W, b = pend
                pend = (W * s[None, :], None if b is None else b * s)
            else:
                put(np.diag(s), None)
        elif isinstance(node, nir.LIF):
            flush()
            n = _arr(node.tau).size
            layers.append(lif(n, _arr(node.tau) * 1e3, _arr(node.r, n), _arr(node.v_leak, n), _arr(node.v_threshold, n), _arr(node.v_reset, n)))
            width = n
        elif isinstance(node, nir.IF):
            flush()
            n = _arr(node.r).size
            r = _arr(node.r, n) * (IF_TAU_MS / 1e3)
            layers.append(
                MODELS["LIF"](n, tau=IF_TAU_MS, R=_vals(r), V_rest=0.0, V_th=_vals(_arr(node.v_threshold, n)),
                              V_reset=_vals(_arr(node.v_reset, n)), spk_reset="hard")
            )
            width = n
        elif isinstance(node, nir.CubaLIF):
            flush()
            n = _arr(node.tau_mem).size
            w_in = _arr(node.w_in, n)
            tau_syn = _arr(node.tau_syn, n)
            if not np.all(tau_syn == tau_syn[0]):
                raise ValueError(f"NIR node `{key}` (CubaLIF): tau_syn differs between neurons; somata's LI layer has one tau")
            layers.append(_nn.LI(n, n, tau=float(_tau(tau_syn[0] * 1e3, dt, method)), weight=np.diag(w_in), b=np.zeros(n)))
            layers.append(lif(n, _arr(node.tau_mem) * 1e3, _arr(node.r, n), _arr(node.v_leak, n), _arr(node.v_threshold, n), _arr(node.v_reset, n)))
            width = n
        elif isinstance(node, nir.LI):
            n = _arr(node.tau).size
            tau = _arr(node.tau, n)
            if not np.all(tau == tau[0]):
                raise ValueError(f"NIR node `{key}` (LI): tau differs between neurons; somata's LI layer has one tau")
            r, v_leak = _arr(node.r, n), _arr(node.v_leak, n)
            if pend is None:
                W, b = np.eye(n), np.zeros(n)
            else:
                W, b = pend
                b = np.zeros(W.shape[1]) if b is None else b
                pend = None
            layers.append(_nn.LI(W.shape[0], n, tau=float(_tau(tau[0] * 1e3, dt, method)), weight=W * r[None, :], b=b * r + v_leak))
            width = n
        else:
            raise ValueError(f"NIR node `{key}`: {type(node).__name__} has no somata counterpart (Affine, Linear, Scale, LIF, IF, CubaLIF, LI)")
    flush()
    if not layers:
        raise ValueError("NIR graph: no computational node between Input and Output")
    return _nn.Sequential(layers, dt=dt)


def _param(layer, name, n, trained=None, k=None):
    """A neuron layer's parameter: its trained value in the network if it is trained, else
    the value it was built with."""
    if trained is not None and f"{k}.{name}" in trained:
        return _arr(trained[f"{k}.{name}"], n)
    return _arr(getattr(layer, name), n)


def to_nir(seq):
    """A ``nir.NIRGraph`` of a :class:`somata.nn.Sequential` (its current parameters)."""
    nir = _nir()
    params = seq.parameters()
    nodes, order = {}, []
    nodes["input"] = nir.Input(input_type={"input": np.array([seq.n_in])})
    order.append("input")
    dt = seq.dt
    for k, l in enumerate(seq.layers):
        if isinstance(l, _nn.Linear):
            W = np.asarray(params[f"{k}.W"], dtype=np.float64).reshape(l.n_in, l.n_out)
            if l.bias:
                nodes[f"{k}"] = nir.Affine(weight=W.T.copy(), bias=np.asarray(params[f"{k}.b"], dtype=np.float64))
            else:
                nodes[f"{k}"] = nir.Linear(weight=W.T.copy())
            order.append(f"{k}")
        elif isinstance(l, (_nn.LI, _nn.Readout)):
            W = np.asarray(params[f"{k}.W"], dtype=np.float64).reshape(l.n_in, l.n_out)
            if isinstance(l, _nn.LI):
                b = np.asarray(params.get(f"{k}.b", np.zeros(l.n_out)), dtype=np.float64)
                r = np.ones(l.n_out)
            else:
                b = np.zeros(l.n_out)
                # o ← a·o + x W is LI's a·v + (1 − a)·r·(x W) with r = 1/(1 − a)
                r = np.full(l.n_out, 1.0 / (1.0 - np.exp(-dt / l.tau)))
            nodes[f"{k}.affine"] = nir.Affine(weight=W.T.copy(), bias=b)
            nodes[f"{k}"] = nir.LI(tau=np.full(l.n_out, l.tau / 1e3), r=r, v_leak=np.zeros(l.n_out))
            order += [f"{k}.affine", f"{k}"]
        elif hasattr(l, "model"):
            n = l.num
            if l.spk_reset != "hard":
                raise ValueError(f"layer {k} ({l.model}): soft reset has no NIR counterpart (NIR resets to v_reset); use spk_reset='hard'")
            if l.model == "LIF":
                tau = _param(l, "tau", n, params, k)
                if np.all(tau == IF_TAU_MS) and np.all(_param(l, "V_rest", n, params, k) == 0):
                    nodes[f"{k}"] = nir.IF(r=_param(l, "R", n, params, k) / (IF_TAU_MS / 1e3), v_threshold=_param(l, "V_th", n, params, k), v_reset=_param(l, "V_reset", n, params, k))
                else:
                    nodes[f"{k}"] = nir.LIF(
                        tau=tau / 1e3,
                        r=_param(l, "R", n, params, k),
                        v_leak=_param(l, "V_rest", n, params, k),
                        v_threshold=_param(l, "V_th", n, params, k),
                        v_reset=_param(l, "V_reset", n, params, k),
                    )
            elif l.model == "IF":
                # brainpy.state's IF leaks to 0 with tau: NIR's LIF with v_leak = 0; its hard reset gives 0
                nodes[f"{k}"] = nir.LIF(
                    tau=_param(l, "tau", n, params, k) / 1e3, r=_param(l, "R", n, params, k), v_leak=np.zeros(n), v_threshold=_param(l, "V_th", n, params, k), v_reset=np.zeros(n)
                )
            else:
                raise ValueError(f"layer {k}: {l.model} has no NIR node (LIF and IF export)")
            order.append(f"{k}")
        else:
            raise ValueError(f"layer {k}: {type(l).__name__} has no NIR node")
    nodes["output"] = nir.Output(output_type={"output": np.array([seq.n_out])})
    order.append("output")
    edges = list(zip(order[:-1], order[1:]))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"source": "somata", "dt_ms": dt})


def write(path, seq):
    """Write a :class:`somata.nn.Sequential` as a NIR file."""
    _nir().write(path, to_nir(seq))


def read(path, dt=1.0, method="exp_euler"):
    """Read a NIR file into a :class:`somata.nn.Sequential`."""
    return from_nir(path, dt=dt, method=method)
