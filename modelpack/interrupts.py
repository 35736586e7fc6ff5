"""SIGINT as Pulumi uses it: how the CLI tells a plugin it is done with it.

The Pulumi CLI stops each plugin with SIGINT and kills it 5 s later. A process started with
SIGINT ignored (every process of a shell script's background job: bash ignores SIGINT there;
some CI runners do the same) passes the ignored signal on across `exec`, and a Python process
then installs no KeyboardInterrupt handler. Every `pulumi` command run that way would wait
those 5 s for each plugin it started: our two Python plugins, and the Kubernetes provider (a
Go binary, which leaves an inherited ignored SIGINT ignored).

Our plugins and the `modelpack` commands call `stop_on_interrupt()` first: the plugins then
stop when interrupted, and the `pulumi` the commands run, with the plugins it starts, begin
with SIGINT at its default (a signal handled here is reset by `exec`; an ignored one is not).
"""

from __future__ import annotations

import signal


def stop_on_interrupt() -> None:
    """SIGINT raises KeyboardInterrupt here, and reaches the processes started from here at
    its default, even when this process was started with it ignored."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
