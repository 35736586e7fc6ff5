"""Fixtures shared across test folders (one deployed source workspace for the session)."""

import pytest

from modelpack.interrupts import stop_on_interrupt
from tests.support.deployed import portable_dev

__all__ = ["portable_dev"]


def pytest_configure(config: pytest.Config) -> None:
    # The suite's own `pulumi` commands start as the `modelpack` commands start theirs, also
    # when the suite runs as a background job (modelpack/interrupts.py).
    stop_on_interrupt()
