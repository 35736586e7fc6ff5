"""The dynamic-provider server the plugin runs: `pulumi.dynamic`'s own, except that a
`ReportedError` reaches Pulumi as its message instead of a Python traceback (the SDK reports
every exception with `traceback.format_exc()`)."""

from __future__ import annotations

import runpy
import sys
import traceback

from modelpack.interrupts import stop_on_interrupt
from modelpack.providers.errors import ReportedError

_format_exc = traceback.format_exc


def _format_exc_or_message(limit: int | None = None, chain: bool = True) -> str:
    error = sys.exc_info()[1]
    if isinstance(error, ReportedError):
        return str(error)
    return _format_exc(limit=limit, chain=chain)


def main() -> None:
    stop_on_interrupt()
    traceback.format_exc = _format_exc_or_message
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
