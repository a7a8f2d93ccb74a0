"""A broker outage makes aiokafka log the same error thousands of times a second; the
log keeps one line per few seconds with a count of those held back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shared.logs import RepeatLimiter, configure_logging, redact_text


def _record(name: str, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)


def test_repeats_are_held_back_and_counted() -> None:
    now = [100.0]
    limiter = RepeatLimiter(("aiokafka",), window_s=5.0, clock=lambda: now[0])
    template = "Unable connect to node with id %s"
    assert limiter.filter(_record("aiokafka.conn", template))
    held = [limiter.filter(_record("aiokafka.conn", template)) for _ in range(1000)]
    assert not any(held)
    assert limiter.filter(_record("aiokafka.conn", "another message"))
    now[0] += 5.0
    released = _record("aiokafka.conn", template)
    assert limiter.filter(released)
    assert getattr(released, "suppressed_repeats", 0) == 1000


def test_other_loggers_are_never_held_back() -> None:
    limiter = RepeatLimiter(("aiokafka",), clock=lambda: 0.0)
    assert all(limiter.filter(_record("docket.notifier", "same")) for _ in range(10))


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging binds the log to this test's captured stdout: put the
    process's logging back afterwards, or later tests would write to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


@pytest.mark.usefixtures("restored_logging")
def test_service_log_keeps_one_line_per_window(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test")
    noisy = logging.getLogger("aiokafka.client")
    for _ in range(500):
        noisy.error("Unable to update metadata from %s", [1])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert [line["event"] for line in lines] == ["Unable to update metadata from [1]"]


def test_ids_are_not_taken_for_phone_numbers() -> None:
    request_id = "48127c6b-1234-5678-8f5e-220c7616c43c"
    assert redact_text(f"request {request_id}") == f"request {request_id}"
    assert redact_text("call +1 202-555-0143 today") == "call [phone] today"
