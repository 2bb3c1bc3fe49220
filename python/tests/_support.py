"""Helpers shared by the test modules (importable because conftest.py puts this folder on
sys.path, whatever pytest's import mode)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
GOLDEN_DIR = os.path.join(REPO, "crates", "somata", "tests", "data", "brainpy-2.9.0")
NETWORKS_DIR = os.path.join(REPO, "crates", "somata", "examples", "networks")


class Q:
    """A duck-typed quantity (the shape of brainunit's ``Quantity``: ``mantissa`` and ``unit``)."""

    def __init__(self, mantissa, unit):
        self.mantissa = mantissa
        self.unit = unit

    def __repr__(self):
        return f"Q({self.mantissa!r}, {self.unit!r})"
