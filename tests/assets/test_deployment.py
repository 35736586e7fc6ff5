"""The deployment schema's `batching` block (modelpack/assets/deployment.py), a modelpack
extension: off when absent, defaults when empty, and refused where it could merge nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelpack.assets import BatchingSettings, ManagedOnlineDeployment

BASE: dict[str, Any] = {
    "name": "blue",
    "endpoint_name": "ep1",
    "environment": "azureml:pkg1@latest",
    "instance_type": "Standard_DS3_v2",
    "instance_count": 1,
    "request_settings": {"max_concurrent_requests_per_instance": 64},
}


def deployment(**fields: Any) -> ManagedOnlineDeployment:
    return ManagedOnlineDeployment.model_validate({**BASE, **fields})


def error_of(**fields: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        deployment(**fields)
    return str(raised.value)


def test_batching_is_off_by_default_and_takes_defaults_when_empty() -> None:
    assert deployment().batching is None
    assert deployment(batching={}).batching == BatchingSettings(max_batch_size=32, max_latency_ms=5)
    given = deployment(batching={"max_batch_size": 8, "max_latency_ms": 0}).batching
    assert given == BatchingSettings(max_batch_size=8, max_latency_ms=0)


@pytest.mark.parametrize(
    "batching, phrase",
    [
        ({"max_batch_size": 1}, "must be at least 2 (got 1): a batch of 1 merges nothing"),
        ({"max_batch_size": 5000}, "less than or equal to 1024"),
        ({"max_latency_ms": -1}, "greater than or equal to 0"),
        ({"max_latency_ms": 2000}, "less than or equal to 1000"),
        ({"max_wait": 5}, "max_wait"),
    ],
)
def test_batching_fields_are_checked(batching: dict[str, Any], phrase: str) -> None:
    message = error_of(batching=batching)
    assert "batching." in message and phrase in message, message


def test_batching_needs_an_instance_that_serves_requests_at_once() -> None:
    message = error_of(batching={}, request_settings={})
    assert "max_concurrent_requests_per_instance is 1" in message, message


def test_the_latency_bound_must_be_below_the_request_timeout() -> None:
    settings = {"max_concurrent_requests_per_instance": 8, "request_timeout_ms": 100}
    message = error_of(batching={"max_latency_ms": 100}, request_settings=settings)
    assert "must be below request_settings.request_timeout_ms (100)" in message, message
