"""How our Pulumi plugins (the language host, the dynamic-provider server) learn that the CLI
is done with them.

The CLI stops a plugin with SIGINT and kills it 5 s later. A process started with SIGINT
ignored keeps it ignored across `exec`, and Python then installs no KeyboardInterrupt handler:
a `pulumi up` run from a background job of a shell script (bash ignores SIGINT there) or from
a CI runner that does the same would wait those 5 s for every plugin it started.
"""

from __future__ import annotations

import signal


def stop_on_interrupt() -> None:
    """SIGINT raises KeyboardInterrupt in this process, whatever its parent left it as."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
