"""Errors a dynamic provider reports to the person running `up`, as a sentence.

The SDK's provider server (`pulumi.dynamic`) sends Pulumi the traceback of any exception; the
plugin (`modelpack.dynamic_server`) sends only the message of a `ReportedError`, whose text
already says what failed and what to do.
"""

from __future__ import annotations


class ReportedError(Exception):
    """A failure whose message is the whole report (no traceback)."""
