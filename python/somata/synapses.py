"""Synapse and short-term-plasticity modules on their own, as brainpy.state's ``Expon(n, tau=...)``
stepped by hand: ``init_state()``, ``update(x)`` returns the output (a conductance in S; STP's and
STD's released fraction), states as attributes (``syn.g``). Inside networks the same modules
are named by projections (``somata.state.Expon.desc(...)``, or the network file's ``synapse``).
"""

import numpy as np

from . import _somata
from ._units import canonical, to_pair
from .environ import get_dt


class Synapse:
    """A module of ``n`` synapses of one model; parameters by BrainPy name (canonical floats,
    strings with units or quantities)."""

    model = None

    def __init__(self, in_size, **params):
        n = int(np.prod(in_size))
        conv = {k: to_pair(v) for k, v in params.items()}
        object.__setattr__(self, "_core", _somata.Synapse(self.model, n, conv, get_dt()))
        object.__setattr__(self, "num", n)

    def init_state(self, batch_size=None, **kwargs):
        """Create the states; the module's step restarts at 0 with ``somata.environ``'s dt."""
        if batch_size is not None:
            raise ValueError("a standalone synapse module has no batch axis; give in_size = batch × n")
        self._core.init_state(get_dt())

    reset_state = init_state

    def update(self, x=0.0):
        """One step with input ``x`` (spikes × weight: one value or ``n``); returns the output."""
        xs = canonical(x, self._core.input_unit, f"input of {self.model}")
        return self._core.update(np.ascontiguousarray(np.ravel(xs), dtype=np.float32))

    __call__ = update

    @property
    def state_names(self):
        return list(self._core.state_names)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        core = object.__getattribute__(self, "_core")
        if name in core.state_names:
            return core.get_state(name)
        try:
            return core.get_param(name)
        except ValueError:
            raise AttributeError(f"{self.model} has no state or parameter `{name}`") from None

    def __repr__(self):
        return f"{self.model}({self.num})"


SYNAPSES = {n: type(n, (Synapse,), {"model": n, "__module__": "somata"}) for n in _somata.SYNAPSE_MODELS}
