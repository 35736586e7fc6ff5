"""How a new endpoint's router port is chosen (the choice is then kept in Pulumi state)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from modelpack.targets.docker.router_port import choose_port, locked_table


def test_the_router_port_of_an_existing_router_is_adopted() -> None:
    assert choose_port(18080, 18080, held=set(), taken=set(), own=18081) == 18081


def test_a_port_held_by_another_endpoint_is_never_chosen() -> None:
    assert choose_port(18080, 18080, held={18080}, taken={18081}, own=None) == 18082
    assert choose_port(18080, 18080, held={18080}, taken=set(), own=18080) == 18081


def test_a_port_bound_by_another_process_is_skipped() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        assert choose_port(port, 0, held=set(), taken=set(), own=None) != port


def test_port_zero_picks_a_free_port_no_endpoint_holds() -> None:
    port = choose_port(0, 0, held=set(), taken=set(), own=None)
    assert 1024 < port <= 65535


def test_the_table_is_changed_under_a_lock(tmp_path: Path) -> None:
    def claim(name: str) -> None:
        with locked_table(tmp_path) as table:
            held = set(table.values())
            table[name] = next(p for p in range(20000, 20100) if p not in held)

    threads = [threading.Thread(target=claim, args=(f"ep{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with locked_table(tmp_path) as table:
        assert sorted(table.values()) == list(range(20000, 20020))
