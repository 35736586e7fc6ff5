"""Serving settings read from the environment (modelpack/inference_server/settings.py)."""

from __future__ import annotations

import pytest

from modelpack.inference_server.settings import BatchSettings, Settings, SettingsError


def test_batching_is_off_unless_a_batch_may_hold_two() -> None:
    assert Settings.from_env({}).batching is None
    assert BatchSettings.from_env({"MAX_BATCH_SIZE": "1"}) is None
    assert BatchSettings.from_env({"MAX_BATCH_LATENCY_MS": "5"}) is None


def test_batching_settings_and_their_default_latency() -> None:
    assert BatchSettings.from_env({"MAX_BATCH_SIZE": "32"}) == BatchSettings(32, 5)
    env = {"MAX_BATCH_SIZE": "8", "MAX_BATCH_LATENCY_MS": "0"}
    assert Settings.from_env(env).batching == BatchSettings(max_size=8, max_latency_ms=0)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MAX_BATCH_SIZE": "many"}, "MAX_BATCH_SIZE must be an integer"),
        ({"MAX_BATCH_SIZE": "0"}, "MAX_BATCH_SIZE must be at least 1"),
        ({"MAX_BATCH_SIZE": "4", "MAX_BATCH_LATENCY_MS": "-1"}, "MAX_BATCH_LATENCY_MS must be"),
    ],
)
def test_unusable_batching_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        BatchSettings.from_env(env)


def test_cpu_pinning_is_auto_unless_set() -> None:
    assert Settings.from_env({}).cpu_pinning == "auto"
    assert Settings.from_env({"WORKER_CPU_PINNING": "Off"}).cpu_pinning == "off"


def test_an_unknown_cpu_pinning_is_named() -> None:
    with pytest.raises(SettingsError, match="WORKER_CPU_PINNING must be one of auto, on, off"):
        Settings.from_env({"WORKER_CPU_PINNING": "yes"})
