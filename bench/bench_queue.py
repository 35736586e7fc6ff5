"""The concurrency limit's queue against no limit.

The same server, score.py, Ridge model and 2-row request as ``bench_inference.py``, under
``wrk`` at 16 connections, with no limit and with ``MAX_CONCURRENT_REQUESTS_PER_INSTANCE``
of 1 and 4: every request beyond the limit queues (``MAX_QUEUE_WAIT_MS`` 5000, so none is
refused) and takes the slot its predecessor frees. Servers measured in alternation,
``--rounds`` times each, the round with the median requests/s reported (``wrk_rounds.py``).
At a limit of 1 requests are answered one at a time across the instance, so the event loop
and the run thread no longer overlap: that, more than handing a freed slot over, is what the
limit costs.

    .venv/bin/python bench/bench_queue.py            # about 2 minutes
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from wrk_rounds import (
    ServerSpec,
    ensure_wrk,
    measure,
    prepare,
    print_comparison,
    round_arguments,
)

LIMITS = (1, 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    round_arguments(parser, rounds=3)
    args = parser.parse_args()

    wrk = ensure_wrk()
    server = [sys.executable, "-m", "modelpack.inference_server"]
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        folder = Path(tmp)
        body = prepare(folder)
        print(f"load average before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        rows = []
        for workers in args.workers:
            specs = [ServerSpec("no limit", server, "/readyz")] + [
                ServerSpec(
                    f"limit {limit}",
                    server,
                    "/readyz",
                    {
                        "MAX_CONCURRENT_REQUESTS_PER_INSTANCE": str(limit),
                        "MAX_QUEUE_WAIT_MS": "5000",
                    },
                )
                for limit in LIMITS
            ]
            results = measure(specs, workers, folder, body, wrk, args)
            rows += [(spec.name, workers, results[spec.name]) for spec in specs]
    print_comparison(rows, "no limit", "server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
