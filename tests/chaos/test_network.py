"""Issue #20: network faults between processes, not just dead processes.

The whole system runs on a broker of its own that advertises a Toxiproxy address as
its client listener, so every byte between a service and Kafka crosses the proxy; each
service instance also reaches PostgreSQL through a proxy of its own. One test per fault
kind (``tests/chaos/network.py``): a steady stream of requests with amendments and
decisions runs while the fault sits on the broker link (all services) and then on the
database links of one instance of each service, and the durable state is checked as in
``test_chaos.py``. Then the disks fill up: the broker's log directory and PostgreSQL's
data directory (a server of this module's own) are small tmpfs filesystems mounted for
the run (the suite runs as root). Part of ``make chaos`` (``-m chaos_full``);
run with ``-s`` for the ``NETWORK SUMMARY`` line of each kind."""

from __future__ import annotations

import asyncio
import errno
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from deploy.kafka.launcher import KafkaBroker, secure
from deploy.postgres.launcher import LocalPostgres, ensure_owner_role
from tests.chaos.harness import Accepted, Counts, Mailbox, System, durable_state
from tests.chaos.network import CUT_S, FAULT_KINDS, FaultKind, Link, Toxiproxy, inject
from tests.fixtures.postgres import ROLES, PostgresTestServer
from tests.fixtures.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.chaos_full]

FAULT_S = 12.0
#: The broker's disk: room for the run's records, and small enough to fill quickly.
KAFKA_DISK = "384m"
POSTGRES_DISK = "512m"


@dataclass
class Network:
    system: System
    mailbox: Mailbox
    broker: KafkaBroker
    kafka_link: Link
    kafka_disk: Path
    postgres: LocalPostgres
    postgres_disk: Path


async def mount_tmpfs(where: Path, size: str) -> None:
    command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "docket-chaos", str(where)]
    await asyncio.to_thread(subprocess.run, command, check=True)


async def unmount(where: Path) -> None:
    await asyncio.to_thread(subprocess.run, ["umount", "--lazy", str(where)], check=False)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def network() -> AsyncIterator[Network]:
    folder = Path(tempfile.mkdtemp(prefix="docket-network-"))
    proxy = Toxiproxy(folder)
    await proxy.start()
    kafka_disk = folder / "kafka-disk"
    kafka_disk.mkdir()
    await mount_tmpfs(kafka_disk, KAFKA_DISK)
    # Not inside ``folder`` (mode 0700): the server's own account must reach its data.
    postgres_disk = Path(tempfile.mkdtemp(prefix="docket-network-pg-"))
    await mount_tmpfs(postgres_disk, POSTGRES_DISK)
    postgres = LocalPostgres(postgres_disk / "data")
    broker = KafkaBroker(kafka_disk / "kafka")
    kafka_link = await proxy.link("kafka", broker.bootstrap_servers)
    broker.advertised_port = int(kafka_link.listen.rpartition(":")[2])
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    system: System | None = None
    try:
        admin_url = await asyncio.to_thread(postgres.start)
        await ensure_owner_role(admin_url, ROLES.owner)
        database = await PostgresTestServer(admin_url, postgres).docket_database("network")
        await broker.start(ready_within=300)
        await secure(broker.access)
        # Every client, the services' and this test's, enters through the proxy.
        system = System(broker.security.access(kafka_link.listen), database, smtp.port, folder)
        await system.route_through(proxy)
        await system.start()
        system.supervise()
        yield Network(system, mailbox, broker, kafka_link, kafka_disk, postgres, postgres_disk)
    finally:
        if system is not None:
            await system.stop()
        await broker.stop()
        await asyncio.to_thread(postgres.stop)
        await proxy.stop()
        smtp.stop()
        await unmount(kafka_disk)
        await unmount(postgres_disk)
        print(f"\nnetwork chaos logs: {folder}", flush=True)


def start_stream(system: System, stop: asyncio.Event) -> asyncio.Task[None]:
    """Fresh counts, then a steady stream of requests until ``stop`` is set."""
    system.counts = Counts()
    system.accepted = dict[str, Accepted]()
    return asyncio.create_task(system.stream(stop, 0.5))


async def settle(network: Network, label: str) -> None:
    """The durable state after the fault, its summary line, and the assertions."""
    system = network.system
    state = await durable_state(system, network.mailbox)
    counts = system.counts
    print(
        f"\nNETWORK SUMMARY {label} faults={dict(sorted(counts.faults.items()))}"
        f" requests_sent={counts.sent} accepted={counts.accepted}"
        f" (requests={len(system.accepted)}) refused={dict(counts.refused)}"
        f" liveness_restarts={dict(counts.liveness_restarts)} {state.summary()}",
        flush=True,
    )
    state.assert_clean()
    # Every instance lived through the fault (none crashed or exited).
    assert [i.name for i in system.instances.values() if not i.running] == []


@pytest.mark.parametrize("kind", FAULT_KINDS)
async def test_network_fault(network: Network, kind: FaultKind) -> None:
    system = network.system
    seconds = CUT_S if kind == "cut" else FAULT_S
    stop = asyncio.Event()
    stream = start_stream(system, stop)
    faults = system.counts.faults
    try:
        await asyncio.sleep(3.0)
        # Between every service and the broker.
        await inject([network.kafka_link], kind, seconds)
        faults[f"{kind}_kafka"] += 1
        assert not stream.done(), stream.exception()
        await asyncio.sleep(3.0)
        # Between one instance of each service and PostgreSQL (intake too).
        copy = "ab"[FAULT_KINDS.index(kind) % 2]
        names = [f"{s}-{copy}" for s in ("classifier", "notifier", "audit")] + ["intake"]
        await inject([system.database_links[n] for n in names], kind, seconds)
        faults[f"{kind}_postgres"] += len(names)
        assert not stream.done(), stream.exception()
        await asyncio.sleep(3.0)
    finally:
        stop.set()
        await stream
    await settle(network, f"kind={kind} seconds={seconds:.0f}")


def fill(disk: Path) -> Path:
    """Write to ``disk`` until it is full; the file that filled it."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb") as out:
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    return filler


async def full_disk(
    network: Network,
    label: str,
    disk: Path,
    running: Callable[[], bool],
    start: Callable[[], Awaitable[object]],
) -> None:
    """Fill ``disk`` while requests stream in: intake answers 503 rather than 202 for
    what cannot be stored, nothing it accepted is lost; then space returns, the server
    is started again if it stopped itself (as an orchestrator would), and the services
    carry on by themselves."""
    system = network.system
    stop = asyncio.Event()
    stream = start_stream(system, stop)
    try:
        await asyncio.sleep(3.0)
        filler = await asyncio.to_thread(fill, disk)
        system.counts.faults[label] += 1
        accepted_before, refused_before = system.counts.accepted, system.counts.refused["503"]
        await asyncio.sleep(FAULT_S)
        accepted_while_full = system.counts.accepted - accepted_before
        refused_while_full = system.counts.refused["503"] - refused_before
        stopped_itself = not running()
        filler.unlink()
        if stopped_itself:
            await start()
        await asyncio.sleep(8.0)
        assert not stream.done(), stream.exception()
    finally:
        stop.set()
        await stream
    await settle(
        network,
        f"kind={label} seconds={FAULT_S:.0f} server_stopped_itself={stopped_itself}"
        f" accepted_while_full={accepted_while_full} refused_while_full={refused_while_full}",
    )
    assert refused_while_full > 0  # intake said 503, it did not pretend


async def test_full_disk_under_the_broker(network: Network) -> None:
    """Kafka stops itself when its only log directory fails."""
    broker = network.broker
    await full_disk(
        network,
        "disk_full_kafka",
        network.kafka_disk,
        lambda: broker.running,
        lambda: broker.start(ready_within=300),  # log recovery, on a loaded machine
    )


async def test_full_disk_under_postgres(network: Network) -> None:
    postgres = network.postgres
    await full_disk(
        network,
        "disk_full_postgres",
        network.postgres_disk,
        postgres.is_running,
        lambda: asyncio.to_thread(postgres.start),
    )
