"""Which failures are the infrastructure's (waited out, the record read again) and which
the record's (retried a few times, then dead-lettered): shared.kafka.TRANSIENT_ERRORS."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from shared.kafka import TRANSIENT_ERRORS


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.DiskFullError("could not extend file"),  # the full-disk test's finding
        asyncpg.OutOfMemoryError("out of memory"),
        asyncpg.TooManyConnectionsError("too many clients"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.PostgresIOError("could not write to file"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionResetError(),
        TimeoutError(),
        KafkaConnectionError(),
    ],
    ids=type,
)
def test_the_infrastructure_failing_is_waited_out(error: BaseException) -> None:
    assert isinstance(error, TRANSIENT_ERRORS)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.DataError("invalid input syntax"),
        asyncpg.UndefinedColumnError("column does not exist"),
        ValueError("a bug"),
        KeyError("a bug"),
    ],
    ids=type,
)
def test_a_failure_of_the_record_or_a_bug_is_not(error: BaseException) -> None:
    assert not isinstance(error, TRANSIENT_ERRORS)
