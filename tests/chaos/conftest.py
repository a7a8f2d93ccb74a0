"""The chaos suite's system: all Docket services as processes on the session's broker
and database, started once for the module."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from deploy.kafka.security import KafkaAccess
from tests.chaos.harness import Mailbox, System
from tests.chaos.network import Toxiproxy
from tests.fixtures.postgres import PostgresTestServer
from tests.fixtures.servers import free_port


@pytest.fixture(scope="module")
def mailbox() -> Mailbox:
    return Mailbox()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chaos_system(
    kafka_access: KafkaAccess,
    postgres_server: PostgresTestServer,
    mailbox: Mailbox,
) -> AsyncIterator[System]:
    # Not tmp_path_factory: pytest prunes old basetemps, also those of other sessions.
    folder = Path(tempfile.mkdtemp(prefix="docket-chaos-"))
    name = f"chaos_{free_port()}"
    database = await postgres_server.docket_database(name)
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    system = System(kafka_access, database, smtp.port, folder)
    proxy = Toxiproxy(folder)
    await proxy.start()
    try:
        await system.route_through(proxy)
        await system.start()
        system.supervise()
        yield system
    finally:
        await system.stop()
        await proxy.stop()
        smtp.stop()
        print(f"\nchaos service logs: {folder}", flush=True)
