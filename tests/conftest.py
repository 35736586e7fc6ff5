"""Fixtures shared across test folders (one deployed source workspace for the session)."""

from tests.support.deployed import portable_dev

__all__ = ["portable_dev"]
