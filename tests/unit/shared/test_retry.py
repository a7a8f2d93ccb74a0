"""One retry policy: backoff with jitter, a receiver's hint honoured up to the cap, a
refused error raised at once, and every retry and give-up counted on the admin port."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr

from shared.retry import METRICS, RetryPolicy
from shared.service import create_runtime
from shared.settings import CommonSettings


class Flaky:
    """Fails with the given errors in turn, then answers ``"done"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _count(counter: str, operation: str, error: str) -> float:
    registry = CollectorRegistry()
    METRICS.serve_in(registry)
    value = registry.get_sample_value(f"{counter}_total", {"operation": operation, "error": error})
    return value or 0.0


POLICY = RetryPolicy("test_operation", "test_retrying", attempts=4, initial_s=1.0, max_s=3.0)


async def test_backoff_doubles_up_to_the_cap_and_is_counted() -> None:
    before = _count("docket_retries", "test_operation", "ConnectionError")
    flaky, sleeps = Flaky(*(ConnectionError() for _ in range(3))), Sleeps()
    answer = await POLICY.call(
        flaky, retry_if=lambda e: isinstance(e, ConnectionError), sleep=sleeps, jitter=lambda: 1.0
    )
    assert answer == "done"
    assert flaky.calls == 4
    assert sleeps.delays == [1.0, 2.0, 3.0]  # 1, 2, 4 capped at 3
    assert _count("docket_retries", "test_operation", "ConnectionError") == before + 3


async def test_jitter_keeps_each_wait_in_the_upper_half() -> None:
    sleeps = Sleeps()
    await POLICY.call(
        Flaky(OSError(), OSError()), retry_if=lambda e: True, sleep=sleeps, jitter=lambda: 0.0
    )
    assert sleeps.delays == [0.5, 1.0]


async def test_giving_up_raises_the_last_error_and_is_counted() -> None:
    before = _count("docket_retries_exhausted", "test_operation", "TimeoutError")
    flaky = Flaky(*(TimeoutError(f"try {n}") for n in range(1, 10)))
    with pytest.raises(TimeoutError, match="try 4"):
        await POLICY.call(flaky, retry_if=lambda e: True, sleep=Sleeps())
    assert flaky.calls == 4
    assert _count("docket_retries_exhausted", "test_operation", "TimeoutError") == before + 1


async def test_an_error_the_policy_refuses_is_raised_at_once() -> None:
    flaky, sleeps = Flaky(ValueError("a bug"), OSError()), Sleeps()
    with pytest.raises(ValueError, match="a bug"):
        await POLICY.call(flaky, retry_if=lambda e: isinstance(e, OSError), sleep=sleeps)
    assert (flaky.calls, sleeps.delays) == (1, [])


async def test_a_hint_is_waited_but_never_past_the_cap() -> None:
    sleeps = Sleeps()
    await POLICY.call(
        Flaky(OSError("2.5"), OSError("60")),
        retry_if=lambda e: True,
        wait_hint=lambda e: float(str(e)),
        sleep=sleeps,
        jitter=lambda: 0.0,
    )
    assert sleeps.delays == [2.5, 3.0]


async def test_a_time_limited_policy_never_sleeps_past_its_limit() -> None:
    policy = replace(POLICY, attempts=None, within_s=0.2, initial_s=10.0, max_s=10.0)
    started = time.monotonic()
    with pytest.raises(OSError, match="still down"):
        await policy.call(
            Flaky(*(OSError("still down") for _ in range(1000))), retry_if=lambda e: True
        )
    assert time.monotonic() - started < 5.0  # a 10 s backoff would overrun


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy("x", "x_retrying", attempts=0)


def test_every_service_serves_the_retry_counters() -> None:
    runtime = create_runtime(
        "test",
        CommonSettings(
            kafka_bootstrap_servers="127.0.0.1:1",
            kafka_username="docket-test",
            kafka_password=SecretStr("never-used"),
        ),
    )
    METRICS.retries.labels("kafka_startup", "KafkaConnectionError").inc(0)
    text = generate_latest(runtime.registry).decode()
    assert "# TYPE docket_retries_total counter" in text
    assert "# TYPE docket_retries_exhausted_total counter" in text


async def test_an_operation_returning_an_awaitable_is_awaited() -> None:
    flaky = Flaky(OSError())
    answer = await POLICY.call(lambda: flaky(), retry_if=lambda e: True, sleep=Sleeps())
    assert (answer, flaky.calls) == ("done", 2)
