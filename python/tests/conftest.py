"""Fixtures of the somata Python test suite; helpers live in _support.py."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import somata  # noqa: E402


@pytest.fixture(autouse=True)
def _default_dt():
    """Every test starts (and leaves) somata.environ at BrainPy's 0.1 ms."""
    somata.environ.set(dt=0.1)
    yield
    somata.environ.set(dt=0.1)
