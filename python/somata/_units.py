"""Values at the boundary: canonical floats, "10 ms" strings, and brainunit/saiunit quantities.

somata's canonical units are ms, mV, mA, mM, ohm, S, mF, kHz (and their products): a plain float
or numpy array is taken in the canonical unit of whatever it sets. A string ``"10 ms"`` or a
quantity (any object with ``mantissa`` and ``unit`` attributes, as brainunit's and saiunit's
``Quantity``; read duck-typed, so neither package is needed) is converted, and a wrong
dimension is a ``ValueError`` naming the parameter.
"""

import re

import numpy as np

from . import _somata

_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def is_quantity(v):
    """True for a brainunit/saiunit quantity (duck-typed: ``mantissa`` and ``unit``)."""
    return hasattr(v, "mantissa") and hasattr(v, "unit")


def unit_str(u):
    """The text of a unit object (brainunit prints ``mV``, ``ms``, ``mV / ms``, ...)."""
    s = str(u)
    return s.replace("·", "*").strip() or "1"


def to_pair(v):
    """A quantity or ``"10 ms"`` as ``(mantissa, unit string)``; anything else unchanged."""
    if is_quantity(v):
        m = np.asarray(v.mantissa, dtype=np.float64)
        return (float(m) if m.ndim == 0 else m.ravel().tolist(), unit_str(v.unit))
    return v


def canonical(value, dim_unit, what):
    """``value`` as a float64 array in the canonical unit named ``dim_unit`` (``"mA"``).

    Floats and arrays are canonical already; strings and quantities are converted and their
    dimension checked.
    """
    want_scale, want_dim = _somata.parse_unit(dim_unit)
    if isinstance(value, str):
        m = _NUM.match(value)
        if not m:
            raise ValueError(f"{what}: `{value}` is not a quantity such as \"10 ms\"")
        num, unit = float(m.group(1)), m.group(2) or "1"
        scale, dim = _somata.parse_unit(unit)
        _check(dim, want_dim, what, unit, dim_unit)
        return np.asarray(num * scale / want_scale, dtype=np.float64)
    if is_quantity(value):
        unit = unit_str(value.unit)
        scale, dim = _somata.parse_unit(unit)
        _check(dim, want_dim, what, unit, dim_unit)
        return np.asarray(value.mantissa, dtype=np.float64) * (scale / want_scale)
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a number or a quantity, got a boolean")
    arr = np.asarray(value, dtype=np.float64)
    return arr


def _check(dim, want, what, unit, want_unit):
    if tuple(dim) != tuple(want):
        raise ValueError(
            f"dimension mismatch for {what}: expected the dimension of {want_unit}, got `{unit}`"
        )


def to_ms(value, what="dt"):
    """A time as a float in ms."""
    a = canonical(value, "ms", what)
    if a.ndim != 0:
        raise ValueError(f"{what}: expected one time, got an array of shape {a.shape}")
    return float(a)


def file_value(v):
    """A value as the network file writes it: quantities as ``"<number> <unit>"``, numpy arrays
    as lists, nested dicts and lists converted."""
    if is_quantity(v):
        m = np.asarray(v.mantissa, dtype=np.float64)
        unit = unit_str(v.unit)
        if m.ndim == 0:
            return f"{float(m)!r} {unit}"
        return [f"{float(x)!r} {unit}" for x in m.ravel()]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, dict):
        return {str(k): file_value(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [file_value(x) for x in v]
    return v
