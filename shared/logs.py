"""structlog JSON logs to stdout, with trace and request ids and no personal data.

Log ids, never people: a redaction processor removes e-mail addresses, phone numbers
and IP addresses from every value, and drops keys that may hold document text.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
#: Not inside ids: a digit run between hyphens is part of a UUID, not a phone number.
PHONE = re.compile(r"(?<![\w.-])\+?\d[\d ()./-]{7,}\d(?![\w.-])")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b")
#: Keys whose values are personal data whatever they look like.
SECRET_KEYS = frozenset({"document_text", "email", "contact_email", "body", "text", "html"})
#: Loopback addresses are where Docket's own processes listen, not a person's.
LOOPBACK = ("127.0.0.1", "0.0.0.0")


def redact_text(value: str) -> str:
    value = EMAIL.sub("[email]", value)
    value = IPV6.sub("[ip]", value)
    value = IPV4.sub(lambda m: m.group(0) if m.group(0) in LOOPBACK else "[ip]", value)
    return PHONE.sub(lambda m: m.group(0) if IPV4.fullmatch(m.group(0)) else "[phone]", value)


def redact_personal_data(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        value = event[key]
        if key in SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = redact_text(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = redact_text(str(value))
    return event


def add_trace_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


class RepeatLimiter(logging.Filter):
    """For loggers under ``names``: lets one record per message template through every
    ``window_s``; the next one carries how many were held back. While a broker is down,
    aiokafka's clients retry their metadata requests thousands of times a second, each
    logged as an error: one line per few seconds tells on-call the same thing without
    flooding the log."""

    def __init__(
        self,
        names: tuple[str, ...],
        window_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._names = names
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._names):
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        opened, held = self._seen.get(key, (-math.inf, 0))
        if now - opened < self._window_s:
            self._seen[key] = (opened, held + 1)
            return False
        if len(self._seen) > 1_000:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held:
            record.suppressed_repeats = held
        return True


def add_suppressed_repeats(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    held = getattr(record, "suppressed_repeats", 0) if record is not None else 0
    if held:
        event["suppressed_repeats"] = held
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout; stdlib loggers (uvicorn, aiokafka, faststream) go through
    the same processors so nothing leaves unredacted."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        lambda _l, _m, event: {"service": service, **event},
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact_personal_data,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                add_suppressed_repeats,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_personal_data,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    handler.addFilter(RepeatLimiter(("aiokafka", "kafka")))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
