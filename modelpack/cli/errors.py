"""The one error type of the command line: what went wrong, and what to do next."""

from __future__ import annotations

import sys


class CliError(Exception):
    """A failure the user can act on. `next_step` is printed on its own line after the message."""

    def __init__(self, message: str, next_step: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.next_step = next_step
        self.exit_code = exit_code

    def __str__(self) -> str:
        if self.next_step:
            return f"{self.message}\nnext: {self.next_step}"
        return self.message


def report(error: CliError) -> int:
    """Print `error` for the user (message, then what to do next); returns its exit code."""
    print(f"error: {error.message}", file=sys.stderr)
    if error.next_step:
        print(f"next: {error.next_step}", file=sys.stderr)
    return error.exit_code
