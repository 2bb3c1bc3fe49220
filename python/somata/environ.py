"""The simulation environment, as ``brainstate.environ``: the time step ``dt``.

``somata.environ.set(dt=0.1)`` (ms, or ``"0.1 ms"``, or a quantity) sets the step that layers
take at ``init_state``/``reset_state`` and that ``somata.nn.Sequential`` defaults to; the default
is BrainPy's 0.1 ms. ``with somata.environ.context(dt=0.05): ...`` sets it for a block.
"""

import contextlib

from ._units import to_ms

_DT = [0.1]


def set(dt=None, **_ignored):  # noqa: A001 (brainstate's name)
    """Set the default time step."""
    if dt is not None:
        v = to_ms(dt)
        if not (v > 0 and v == v and v != float("inf")):
            raise ValueError(f"dt must be finite and > 0, got {v} ms")
        _DT[0] = v


def get_dt():
    """The default time step, ms."""
    return _DT[0]


def get(key):
    """``get("dt")``: the default time step, ms."""
    if key != "dt":
        raise KeyError(key)
    return _DT[0]


@contextlib.contextmanager
def context(dt=None, **_ignored):
    """Set ``dt`` for a block."""
    old = _DT[0]
    set(dt=dt)
    try:
        yield
    finally:
        _DT[0] = old
