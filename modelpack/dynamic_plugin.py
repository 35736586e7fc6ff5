"""`pulumi-resource-pulumi-python`: the plugin that serves Pulumi dynamic providers.

The Pulumi CLI runs every `pulumi.dynamic.Resource` through a provider plugin of this name;
the Python SDK ships its implementation as the module `pulumi.dynamic` (its `__main__` starts a
gRPC ResourceProvider server and prints the port), which Pulumi's own language host starts as
`python -u -m pulumi.dynamic <engine address>`. This console script of the package (see
pyproject.toml, `[project.scripts]`) does the same through `modelpack.dynamic_server` (which
reports a `ReportedError` without its traceback) with the interpreter modelpack is installed
in, replacing its own process (same pid, same arguments):

- `-u`: `pulumi.dynamic` writes the port without flushing; unbuffered, the CLI reads it at once;
- `-m`: the working folder (the project, where the CLI starts plugins) comes first on
  `sys.path`, so a provider pickled by reference from the program's own modules imports as it
  did in the program (the project's providers live in `modelpack`, installed).

Kept apart from `modelpack.language_host` so that starting it imports nothing heavy.
"""

from __future__ import annotations

import os
import sys


def command(argv: list[str]) -> list[str]:
    return [sys.executable, "-u", "-m", "modelpack.dynamic_server", *argv]


def main() -> None:
    arguments = command(sys.argv[1:])
    os.execv(arguments[0], arguments)


if __name__ == "__main__":
    main()
