"""Training spiking networks by surrogate-gradient BPTT over numpy data.

>>> net = somata.nn.Sequential([
...     somata.nn.Linear(64, 128),
...     somata.LIF(128, tau="5 ms", V_th=1.0),
...     somata.nn.Readout(128, 10, tau="5 ms"),
... ], dt=1.0)                                                   # doctest: +SKIP
>>> net.fit(x_train, y_train, steps=20, epochs=5, lr=5e-3)        # doctest: +SKIP
>>> net.evaluate(x_test, y_test, steps=20)                        # doctest: +SKIP

Inputs are ``[samples, n]`` (a constant current every step) or ``[samples, steps, n]``
(sequences, e.g. spike trains); outputs and gradients are ``[steps, batch, n_out]``. A neuron
layer is any ``somata`` model object; its ``train=[...]`` parameters (``tau``, ``V_th``) learn
with the weights. Checkpoints are safetensors files (readable with the ``safetensors``
package), written atomically.
"""

import numpy as np

from . import _somata
from ._units import to_ms
from .environ import get_dt
from .neurons import Neuron


class Linear:
    """``y = x W + b``; ``W`` is ``[n_in, n_out]`` (torch's ``weight.T``). Default init:
    brainstate.nn.Linear's, a truncated-normal KaimingNormal (std √(2/n_in)) from ``seed``, zero
    bias."""

    def __init__(self, n_in, n_out, bias=True, seed=0, weight=None, b=None):
        self.n_in, self.n_out, self.bias, self.seed = int(n_in), int(n_out), bool(bias), int(seed)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float32).reshape(self.n_in, self.n_out)
        self.b = None if b is None else np.asarray(b, dtype=np.float32).reshape(self.n_out)

    def spec(self):
        w = None if self.weight is None else self.weight.ravel().tolist()
        b = None if self.b is None else self.b.ravel().tolist()
        return ("linear", self.n_in, self.n_out, self.seed, self.bias, w, b)


class Readout:
    """BrainPy's ``LeakyRateReadout``: ``o ← o·e^{−dt/τ} + x W`` (no ``(1 − e^{−dt/τ})`` factor;
    ``tau`` in ms or a quantity), weights KaimingNormal from ``seed``."""

    def __init__(self, n_in, n_out, tau=5.0, seed=1, weight=None):
        self.n_in, self.n_out, self.tau, self.seed = int(n_in), int(n_out), to_ms(tau, "tau"), int(seed)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float32).reshape(self.n_in, self.n_out)

    def spec(self):
        w = None if self.weight is None else self.weight.ravel().tolist()
        return ("readout", self.n_in, self.n_out, self.tau, self.seed, w)


class LI:
    """A leaky integrator of ``x W + b`` (no spikes): the membrane readout (NIR's ``LI``
    after an ``Affine``)."""

    def __init__(self, n_in, n_out, tau=5.0, seed=1, weight=None, b=None):
        self.n_in, self.n_out, self.tau, self.seed = int(n_in), int(n_out), to_ms(tau, "tau"), int(seed)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float32).reshape(self.n_in, self.n_out)
        self.b = None if b is None else np.asarray(b, dtype=np.float32).reshape(self.n_out)

    def spec(self):
        w = None if self.weight is None else self.weight.ravel().tolist()
        b = None if self.b is None else self.b.ravel().tolist()
        return ("membrane", self.n_in, self.n_out, self.tau, self.seed, w, b)


class Recurrent:
    """A recurrent spiking layer: ``neurons`` (any somata model layer) whose own spikes of the
    previous step feed back through a trained ``[n, n]`` matrix ``W_rec``:
    ``I_t = x_t + s_{t−1}·W_rec (+ b)``. Put a ``Linear`` in front for the input projection.
    ``train``: neuron parameters to learn too (``["tau"]``)."""

    def __init__(self, neurons, seed=0, w_rec=None, bias=False, train=()):
        if not isinstance(neurons, Neuron):
            raise TypeError("Recurrent wraps a somata neuron layer (somata.LIF(n, ...))")
        self.neurons, self.seed, self.bias, self.train = neurons, int(seed), bool(bias), list(train)
        n = neurons.num
        self.n_in = self.n_out = n
        self.w_rec = None if w_rec is None else np.asarray(w_rec, dtype=np.float32).reshape(n, n)

    def spec(self):
        s = self.neurons._spec
        w = None if self.w_rec is None else self.w_rec.ravel().tolist()
        return ("recurrent", self.neurons.model, self.n_in, s["params"], s["spk_fun"], s["spk_reset"], self.seed, self.train, w, self.bias)


def _neuron_spec(layer, train):
    s = layer._spec
    return ("neurons", layer.model, layer.num, s["params"], s["spk_fun"], s["spk_reset"], int(s["seed"]), list(train))


class Adam:
    """Adam (torch's defaults)."""

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self._core = _somata.Optimizer("adam", float(lr), float(betas[0]), float(betas[1]), float(eps), float(weight_decay))

    @property
    def lr(self):
        return self._core.lr

    @lr.setter
    def lr(self, v):
        self._core.lr = float(v)


class SGD:
    """Stochastic gradient descent with momentum."""

    def __init__(self, lr=1e-2, momentum=0.0, weight_decay=0.0):
        self._core = _somata.Optimizer("sgd", float(lr), float(momentum), 0.0, 0.0, float(weight_decay))

    @property
    def lr(self):
        return self._core.lr

    @lr.setter
    def lr(self, v):
        self._core.lr = float(v)


class Sequential:
    """Layers run one after the other over whole sequences; BPTT through all of them.

    ``layers``: ``Linear``, ``Readout``, ``LI``, ``Recurrent`` and neuron layers (``somata.LIF(...)``, any
    model); ``train``: ``{layer index: ["tau", ...]}`` neuron parameters to learn; ``dt`` in ms
    (default ``somata.environ``'s).
    """

    def __init__(self, layers, dt=None, train=None):
        train = train or {}
        specs = []
        for k, l in enumerate(layers):
            if isinstance(l, Neuron):
                specs.append(_neuron_spec(l, train.get(k, ())))
            elif hasattr(l, "spec"):
                specs.append(l.spec())
            else:
                raise TypeError(f"layer {k}: {type(l).__name__} is not a somata layer")
        self.layers = list(layers)
        self._core = _somata.Sequential(get_dt() if dt is None else to_ms(dt), specs)
        self.n_in, self.n_out = self._core.widths()

    @property
    def dt(self):
        return self._core.dt

    def describe(self):
        return self._core.describe()

    def __repr__(self):
        return f"Sequential({self.describe()}, dt={self.dt} ms)"

    # -- data -------------------------------------------------------------------------------
    def _x(self, x, steps):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == 2:
            if x.shape[1] != self.n_in:
                raise ValueError(f"x: expected [samples, {self.n_in}], got {list(x.shape)}")
            if steps is None:
                raise ValueError("a constant input [samples, n] needs `steps`")
            return x, int(steps), True
        if x.ndim == 3:
            if x.shape[2] != self.n_in:
                raise ValueError(f"x: expected [samples, steps, {self.n_in}], got {list(x.shape)}")
            if steps is not None and int(steps) != x.shape[1]:
                raise ValueError(f"x has {x.shape[1]} steps, `steps` says {steps}")
            return x, x.shape[1], False
        raise ValueError(f"x: expected [samples, n] or [samples, steps, n], got shape {list(x.shape)}")

    # -- low level: forward, loss, backward, parameters ---------------------------------------
    def forward(self, x, steps=None):
        """Output ``[steps, batch, n_out]`` for a batch ``x`` (``[batch, n]`` with ``steps``, or
        ``[batch, steps, n]``), keeping what ``backward`` needs."""
        x, T, const = self._x(x, steps)
        B = x.shape[0]
        flat = x if const else np.ascontiguousarray(x.transpose(1, 0, 2))
        y = self._core.forward(flat.ravel(), T, B, const)
        self._last = (T, B)
        return y.reshape(T, B, self.n_out)

    def forward_all(self, x, steps=None):
        """Every layer's output ``[steps, batch, n_k]`` (a list), keeping what ``backward`` needs:
        for losses on hidden layers."""
        x, T, const = self._x(x, steps)
        B = x.shape[0]
        flat = x if const else np.ascontiguousarray(x.transpose(1, 0, 2))
        ys = self._core.forward_all(flat.ravel(), T, B, const)
        self._last = (T, B)
        return [y.reshape(T, B, -1) for y in ys]

    def states(self):
        """The states neuron layers recorded in the last forward pass:
        ``{(layer, name): [steps, batch, n]}`` (canonical units, e.g. ``V`` in mV)."""
        T, B = getattr(self, "_last", (None, None))
        if T is None:
            return {}
        return {(k, name): v.reshape(T, B, -1) for k, name, _unit, v in self._core.layer_states()}

    def backward(self, grad_output, extra=None):
        """Backpropagate ``∂L/∂output`` (``[steps, batch, n_out]``) through the last forward:
        accumulates parameter gradients (read them with ``parameters()``), returns
        ``∂L/∂input``: ``[steps, batch, n_in]``, or ``[batch, n_in]`` (the sum over the steps)
        when the input was constant (``[batch, n]`` with ``steps``). ``extra``: ``{layer: ∂L/∂y_layer}``, gradients
        on hidden layers' outputs (a loss on hidden spikes)."""
        g = np.ascontiguousarray(grad_output, dtype=np.float32)
        T, B, _ = g.shape
        if extra:
            ex = [(int(k), np.ascontiguousarray(v, dtype=np.float32).ravel()) for k, v in extra.items()]
            gx, const = self._core.backward_all(g.ravel(), T, B, ex)
        else:
            gx, const = self._core.backward(g.ravel(), T, B)
        return gx.reshape(B, self.n_in) if const else gx.reshape(T, B, self.n_in)

    def loss(self, y, labels, loss="cross_entropy", reduce="mean", target=1.0):
        """``(loss, ∂loss/∂y)`` of an output ``[steps, batch, n_out]`` for integer labels."""
        y = np.ascontiguousarray(y, dtype=np.float32)
        T, B, _ = y.shape
        v, g = self._core.loss(y.ravel(), T, B, [int(l) for l in labels], loss, reduce, float(target))
        return v, g.reshape(T, B, self.n_out)

    def zero_grad(self):
        self._core.zero_grad()

    def parameters(self):
        """``{"<layer>.<name>": values}`` (copies; ``Linear.W`` is ``[n_in, n_out]`` flattened)."""
        return {f"{k}.{n}": v for k, n, v, _ in self._core.parameters()}

    def gradients(self):
        """``{"<layer>.<name>": ∂L/∂values}`` accumulated since ``zero_grad``."""
        return {f"{k}.{n}": g for k, n, _, g in self._core.parameters()}

    def set_parameters(self, params):
        """Overwrite parameters by ``"<layer>.<name>"``."""
        for key, v in params.items():
            k, n = key.split(".", 1)
            self._core.set_parameter(int(k), n, np.ascontiguousarray(v, dtype=np.float32).ravel())

    def step(self, optimizer):
        """One optimizer step over the accumulated gradients."""
        self._core.step(optimizer._core)

    # -- high level -------------------------------------------------------------------------
    def fit(self, x, labels, steps=None, epochs=1, batch_size=64, lr=1e-3, optimizer=None, seed=0,
            loss="cross_entropy", reduce="mean", target=1.0, validation=None, progress=None, checkpoint=None):
        """Train for ``epochs`` (GIL released; Ctrl-C stops between batches). Returns the history
        ``[{"epoch", "loss", "accuracy", ("val_loss", "val_accuracy")}]``; with ``checkpoint``
        (a path) the parameters are saved after every epoch."""
        x, T, const = self._x(x, steps)
        labels = [int(l) for l in np.asarray(labels).ravel()]
        if len(labels) != x.shape[0]:
            raise ValueError(f"labels: {len(labels)} for {x.shape[0]} samples")
        opt = optimizer or Adam(lr)
        history = []
        for e in range(int(epochs)):
            cb = None
            if callable(progress):
                cb = lambda k, n, l, e=e: progress(e, k, n, l)  # noqa: E731
            lv, acc = self._core.train_epoch(
                x.ravel(), labels, T, opt._core, int(batch_size), const, int(seed) + e, loss, reduce, float(target), cb
            )
            h = {"epoch": e, "loss": lv, "accuracy": acc}
            if validation is not None:
                vl, va = self.evaluate(validation[0], validation[1], steps=steps, loss=loss, reduce=reduce, target=target)
                h.update(val_loss=vl, val_accuracy=va)
            history.append(h)
            if checkpoint is not None:
                self.save(checkpoint, meta={"epoch": str(e + 1)})
        return history

    def evaluate(self, x, labels, steps=None, batch_size=256, loss="cross_entropy", reduce="mean", target=1.0):
        """``(mean loss, accuracy)`` over a data set."""
        x, T, const = self._x(x, steps)
        labels = [int(l) for l in np.asarray(labels).ravel()]
        lv, acc, _ = self._core.evaluate(x.ravel(), labels, T, int(batch_size), const, loss, reduce, float(target))
        return lv, acc

    def predict(self, x, steps=None, batch_size=256, reduce="mean"):
        """Predicted classes (argmax of the reduced output)."""
        x, T, const = self._x(x, steps)
        _, _, p = self._core.evaluate(x.ravel(), [0] * x.shape[0], T, int(batch_size), const, "cross_entropy", reduce, 1.0)
        return np.asarray(p, dtype=np.int64)

    def save(self, path, meta=None):
        """Write the parameters to a safetensors checkpoint (atomically)."""
        import os

        self._core.save(os.fspath(path), [(str(k), str(v)) for k, v in (meta or {}).items()])

    def load(self, path):
        """Load a checkpoint of this architecture; returns its metadata."""
        import os

        return dict(self._core.load(os.fspath(path)))
