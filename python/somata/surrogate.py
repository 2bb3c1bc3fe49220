"""Surrogate gradient functions by braintools' names: ``somata.surrogate.Sigmoid(alpha=4.0)``.

Each class only names the function and its parameters; the engine evaluates it (Heaviside
forward, the surrogate's derivative backward). braintools objects are accepted as well (read
by class name and attributes), and so are plain names (``spk_fun="ReluGrad"``).
"""

from . import _somata


class Surrogate:
    """A surrogate by name with keyword parameters (the engine checks both)."""

    def __init__(self, **params):
        for k, v in params.items():
            setattr(self, k, float(v))

    def __repr__(self):
        ps = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({ps})"


NAMES = list(_somata.surrogate_names())
for _n in NAMES + ["SigmoidGrad", "ATan"]:
    globals()[_n] = type(_n, (Surrogate,), {"__module__": __name__})
__all__ = ["Surrogate"] + NAMES + ["SigmoidGrad", "ATan"]
