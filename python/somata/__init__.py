"""somata: spiking neural networks on a Rust engine, for Python.

brainpy.state's neuron models by their BrainPy names and parameters (``somata.LIF``,
``somata.AdExIF``, ``somata.HH``, ...), networks from network files or dictionaries
(``somata.Network``), surrogate-gradient training over numpy (``somata.nn``) and NIR import
and export (``somata.nir``). Values are floats in canonical units (ms, mV, mA, S, ...),
``"10 ms"`` strings, or brainunit quantities; arrays come back as numpy arrays.

>>> import somata
>>> somata.environ.set(dt=0.1)
>>> n = somata.LIF(4, tau="10 ms", V_th=-50.0, V_reset=-65.0, V_rest=-65.0, R=1.0)
>>> n.init_state()
>>> spikes = n.run(20.0, steps=200)      # 20 mA for 20 ms
>>> spikes.shape
(200, 4)
"""

from . import _somata, environ, surrogate
from . import nn, state  # noqa: F401
from ._somata import __version__
from .network import GapJunction, Input, Monitor, Network, Population, Projection, Result, description, microcircuit
from .neurons import MODELS, Neuron, init, model_info, neuron
from .synapses import SYNAPSES, Synapse

globals().update(MODELS)
globals().update(SYNAPSES)


def models():
    """The BrainPy class names of the built-in neuron models."""
    return list(MODELS)


def simd():
    """``(active back end, back ends this CPU has)`` of the engine."""
    return _somata.simd_info()


__all__ = [
    "GapJunction",
    "Input",
    "Monitor",
    "Network",
    "Neuron",
    "Population",
    "Projection",
    "Result",
    "Synapse",
    "__version__",
    "description",
    "environ",
    "init",
    "microcircuit",
    "model_info",
    "models",
    "neuron",
    "nn",
    "simd",
    "state",
    "surrogate",
] + list(MODELS) + list(SYNAPSES)
