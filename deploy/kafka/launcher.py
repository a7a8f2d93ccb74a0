"""A real Apache Kafka broker (KRaft mode) for local runs, tests and CI, without Docker.

The broker's jars come from Maven Central through ``deploy/kafka/pom.xml`` (the only place
the Kafka version is written) into ``.cache/kafka/<version>/libs``. One ``KafkaBroker`` is
one combined broker+controller node; it runs as a ``java`` subprocess on 127.0.0.1.

Every broker runs secured (``deploy/kafka/security.py``): clients connect over TLS with
a SCRAM-SHA-512 user per service (``SASL_SSL``, the "client" port), brokers and
controllers talk over mutual TLS, and ACLs (``shared/kafka_acl.py``) let each service
write only what it produces and read only what it consumes. ``KafkaAccess`` says how
each principal connects.

``KafkaCluster`` is three such nodes on loopback (distinct ports and data directories, a
static three-voter KRaft quorum), with the project topics at replication factor 3 and
``min.insync.replicas=2``: any one node can be stopped or killed without losing an
acknowledged write.

CLI::

    python -m deploy.kafka.launcher fetch
    python -m deploy.kafka.launcher start --data-dir DIR [--port 9092]
    python -m deploy.kafka.launcher cluster --data-dir DIR   # three nodes, free ports

With ``KAFKA_BOOTSTRAP_SERVERS`` set, nothing is started: the project topics are only
ensured on that cluster, connecting as ``DOCKET_KAFKA_*`` say (the admin's credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import CoordinationType
from aiokafka.errors import (
    BrokerNotAvailableError,
    InvalidReplicationFactorError,
    KafkaError,
    TopicAlreadyExistsError,
    for_code,
)

from deploy.kafka.security import BrokerSecurity, KafkaAccess, create_acls
from shared.topics import PARTITIONS, retention_configs

HERE: Final = Path(__file__).resolve().parent
POM: Final = HERE / "pom.xml"
LOG4J_CONFIG: Final = HERE / "log4j2.xml"
CACHE_DIR: Final = HERE.parents[1] / ".cache" / "kafka"
BOOTSTRAP_ENV: Final = "KAFKA_BOOTSTRAP_SERVERS"
HOST: Final = "127.0.0.1"
HEAP: Final = "512m"
#: Heap of each node of a ``KafkaCluster`` (three JVMs share the machine).
CLUSTER_HEAP: Final = "384m"
CLUSTER_SIZE: Final = 3
CLUSTER_MIN_INSYNC_REPLICAS: Final = 2
#: Single-partition topic the readiness probe writes to and reads back from.
PROBE_TOPIC: Final = "docket.broker-probe"
#: How long a (re)started broker may take to serve: seconds on a quiet machine, minutes
#: on a loaded one (a restart that gives up takes every later test on that broker down).
READY_WITHIN_S: Final = 300.0
PROBE_GROUP: Final = "docket.broker-probe"
LOG_TAIL_LINES: Final = 40


class BrokerError(RuntimeError):
    """Kafka could not be fetched, started, reached or set up."""


def status(message: str) -> None:
    """Print a short status line to stderr."""
    print(f"kafka: {message}", file=sys.stderr, flush=True)


def kafka_version() -> str:
    """The Kafka version pinned in ``pom.xml`` (property ``kafka.version``)."""
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ElementTree.parse(POM).findtext("m:properties/m:kafka.version", namespaces=namespace)
    if not version:
        raise BrokerError(f"no <kafka.version> property in {POM}")
    return version.strip()


def libs_dir() -> Path:
    """Where ``fetch_jars`` puts the broker's jars."""
    return CACHE_DIR / kafka_version() / "libs"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (several sessions may fetch at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_jars() -> Path:
    """Download the broker's jars with Maven unless already complete; return their folder.

    A marker file holding the pom's hash is written after a successful download, so an
    interrupted download or a changed pom triggers a fresh one.
    """
    libs = libs_dir()
    marker = libs / ".fetched"
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()
    with _file_lock(libs.parent / ".lock"):
        if marker.is_file() and marker.read_text().strip() == pom_hash:
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("Maven (mvn) is not on PATH: it is needed to fetch the Kafka jars")
        shutil.rmtree(libs, ignore_errors=True)
        status(f"fetching Kafka {kafka_version()} jars into {libs}")
        started = time.monotonic()
        command = [
            mvn, "-q", "-B", "-f", str(POM),
            "dependency:copy-dependencies", f"-DoutputDirectory={libs}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            raise BrokerError(
                f"mvn failed with exit code {result.returncode}:\n"
                + "\n".join(output[-LOG_TAIL_LINES:])
            )
        marker.write_text(pom_hash + "\n")
        status(f"fetched in {time.monotonic() - started:.1f}s")
    return libs


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` from PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None or not Path(java).is_file():
        raise BrokerError("no Java found (set JAVA_HOME or put java 17+ on PATH)")
    return java


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that are free right now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def new_cluster_id() -> str:
    """A random cluster id in Kafka's format (URL-safe base64 of a UUID, unpadded)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(
    *,
    node_id: int,
    port: int,
    mtls_port: int,
    controller_port: int,
    log_dir: Path,
    quorum_bootstrap_servers: str,
    replication_factor: int,
    security: BrokerSecurity,
    quorum_voters: str | None = None,
    advertised_port: int = 0,
    host: str = HOST,
) -> str:
    """``server.properties`` of one combined broker+controller node on ``host``
    (127.0.0.1 unless the node has a network of its own):
    clients on ``port`` (SASL_SSL), brokers and certificate holders on ``mtls_port``,
    controllers on ``controller_port`` (both mutual TLS).

    A cluster of several nodes gives every node the same ``quorum_voters`` (a static
    quorum, ``id@host:port,...``; then ``quorum_bootstrap_servers`` is not written) and a
    ``replication_factor`` up to the node count; from 2 on, new topics default to it and
    to ``min.insync.replicas=2``.

    ``advertised_port`` (0: ``port``) is the client address the broker hands out in its
    metadata, e.g. a fault proxy in front of ``port`` that all client traffic must cross.
    """
    quorum = (
        {"controller.quorum.voters": quorum_voters}
        if quorum_voters
        else {"controller.quorum.bootstrap.servers": quorum_bootstrap_servers}
    )
    listeners = (
        f"CLIENT://{host}:{port},MTLS://{host}:{mtls_port},CONTROLLER://{host}:{controller_port}"
    )
    properties = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        **quorum,
        "listeners": listeners,
        "advertised.listeners": listeners.replace(
            f"CLIENT://{host}:{port},", f"CLIENT://{host}:{advertised_port or port},"
        ),
        "controller.listener.names": "CONTROLLER",
        **security.server_properties(),
        "log.dirs": str(log_dir),
        "offsets.topic.replication.factor": str(replication_factor),
        "transaction.state.log.replication.factor": str(replication_factor),
        "transaction.state.log.min.isr": str(min(replication_factor, 2)),
        "share.coordinator.state.topic.replication.factor": str(replication_factor),
        "share.coordinator.state.topic.min.isr": str(min(replication_factor, 2)),
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    if replication_factor > 1:
        properties["default.replication.factor"] = str(replication_factor)
        properties["min.insync.replicas"] = str(min(replication_factor, 2))
    return "".join(f"{key}={value}\n" for key, value in properties.items())


class KafkaBroker:
    """One combined broker+controller node running as a ``java`` subprocess.

    Files in ``data_dir``: ``server.properties``, ``broker.log`` (the broker's output),
    ``data/`` (the Kafka log directory, formatted on first start and kept across restarts)
    and, for a single node, its ``tls/`` and ``users.json`` (see ``security.py``; a
    cluster keeps them once for all nodes). Ports default to free ones, chosen once, so
    a restart comes back on the same address.

    ``host`` is the address every listener binds to and is advertised on (127.0.0.1);
    with ``netns`` the node runs inside that network namespace (``ip netns exec``), on
    an address of that namespace, so that its traffic to and from the other nodes can
    be told apart and cut (``tests/chaos/test_partition.py``).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        mtls_port: int = 0,
        controller_port: int = 0,
        node_id: int = 1,
        quorum_voters: str | None = None,
        cluster_id: str | None = None,
        replication_factor: int = 1,
        heap: str = HEAP,
        security: BrokerSecurity | None = None,
        advertised_port: int = 0,
        host: str = HOST,
        netns: str | None = None,
    ) -> None:
        """A single node by default; a cluster member when ``quorum_voters`` (the static
        voters of all nodes), the shared ``cluster_id`` and ``security`` are given."""
        chosen = iter(free_ports(3))
        self.data_dir = data_dir.resolve()
        self.node_id = node_id
        self.host = host
        self.netns = netns
        self.port = port or next(chosen)
        self.mtls_port = mtls_port or next(chosen)
        self.controller_port = controller_port or next(chosen)
        self._security = security
        self.properties_file = self.data_dir / "server.properties"
        self.log_file = self.data_dir / "broker.log"
        self.log_dir = self.data_dir / "data"
        self.quorum_voters = quorum_voters
        self.cluster_id = cluster_id
        self.replication_factor = replication_factor
        self.heap = heap
        self.advertised_port = advertised_port
        self._process: asyncio.subprocess.Process | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the client (SASL_SSL) listener."""
        return f"{self.host}:{self.port}"

    @property
    def security(self) -> BrokerSecurity:
        """The node's certificates and users, created in ``data_dir`` on first use."""
        if self._security is None:
            self._security = BrokerSecurity.prepare(self.data_dir)
        return self._security

    @property
    def access(self) -> KafkaAccess:
        """How each Docket principal connects to this broker."""
        return self.security.access(self.bootstrap_servers)

    @property
    def running(self) -> bool:
        """Whether the broker process was started and has not exited."""
        return self._process is not None and self._process.returncode is None

    async def start(self, *, ready_within: float = READY_WITHIN_S) -> None:
        """Format storage if new, start the broker and wait until it serves produce and fetch."""
        if self.running:
            return
        await self.launch()
        started = time.monotonic()
        try:
            await self.wait_ready(within=ready_within)
        except BaseException:
            await self.stop()
            raise
        status(f"broker ready on {self.bootstrap_servers} in {time.monotonic() - started:.1f}s")

    async def launch(self) -> None:
        """Format storage if new and start the broker process without waiting for it.

        A cluster launches all its nodes first: none is ready before a quorum runs.
        """
        if self.running:
            return
        libs = await asyncio.to_thread(fetch_jars)
        classpath = f"{libs}/*"
        formatted = (self.log_dir / "meta.properties").is_file()
        if formatted and self._security is None and not (self.data_dir / "users.json").is_file():
            raise BrokerError(
                f"{self.log_dir} was formatted without SCRAM users (an unsecured broker of"
                " an older version): remove it (make clean) to start afresh"
            )
        await asyncio.to_thread(self._write_properties)
        if not formatted:
            await self._format(classpath)
        status(f"starting broker on {self.bootstrap_servers} (data in {self.data_dir})")
        namespace = ["ip", "netns", "exec", self.netns] if self.netns else []
        command = [
            *namespace,
            java_executable(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(self.properties_file),
        ]
        log_fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # Own session: a Ctrl-C in the terminal reaches us, and we stop the broker cleanly.
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            os.close(log_fd)

    def _write_properties(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(
            server_properties(
                node_id=self.node_id,
                port=self.port,
                mtls_port=self.mtls_port,
                controller_port=self.controller_port,
                log_dir=self.log_dir,
                quorum_bootstrap_servers=f"{self.host}:{self.controller_port}",
                replication_factor=self.replication_factor,
                security=self.security,
                quorum_voters=self.quorum_voters,
                advertised_port=self.advertised_port,
                host=self.host,
            )
        )

    async def _format(self, classpath: str) -> None:
        """Format the log directory: a new single-controller cluster, or (static voters)
        this node's share of the cluster ``cluster_id``; with every SCRAM user."""
        quorum = [] if self.quorum_voters else ["--standalone"]
        process = await asyncio.create_subprocess_exec(
            java_executable(),
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            *quorum,
            "-t",
            self.cluster_id or new_cluster_id(),
            "-c",
            str(self.properties_file),
            *self.security.scram_arguments(),
            stdin=subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise BrokerError(
                f"formatting {self.log_dir} failed (exit code {process.returncode}):\n"
                + output.decode(errors="replace").strip()
            )

    async def wait_ready(self, *, within: float = READY_WITHIN_S) -> None:
        """Wait until a record produced with acks=all can be fetched back.

        Also waits for the group coordinator, so consumer groups work right away.
        Raises ``BrokerError`` with the tail of the broker log as soon as the broker exits,
        or if it is not ready within ``within`` seconds.
        """
        if self._process is None:
            raise BrokerError("the broker was never started")
        deadline = time.monotonic() + within
        last_error = "none"
        exited = asyncio.create_task(self._process.wait())
        attempt: asyncio.Task[None] | None = None
        try:
            while True:
                attempt = asyncio.create_task(
                    probe(self.access, replication_factor=self.replication_factor)
                )
                done, _ = await asyncio.wait(
                    {attempt, exited},
                    timeout=max(deadline - time.monotonic(), 0.0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if attempt in done:
                    error = attempt.exception()
                    if error is None:
                        return
                    if not isinstance(error, KafkaError | OSError | TimeoutError):
                        raise error
                    last_error = f"{type(error).__name__}: {error}"
                if exited.done():
                    raise BrokerError(
                        f"the broker exited with code {exited.result()}\n{self.log_tail()}"
                    )
                if time.monotonic() >= deadline:
                    raise BrokerError(
                        f"the broker on {self.bootstrap_servers} was not ready after"
                        f" {within:.0f}s (last error: {last_error})\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.5)
        finally:
            exited.cancel()
            if attempt is not None and not attempt.done():
                attempt.cancel()
                await asyncio.wait({attempt})

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of ``broker.log`` without Java stack frames, labelled."""
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return f"(no broker log at {self.log_file})"
        kept = [line for line in text.splitlines() if not line.startswith(("\tat ", "\t..."))]
        tail = "\n".join(kept[-lines:])
        return f"--- last lines of {self.log_file} (stack frames left out) ---\n{tail}"

    async def stop(self, *, grace: float = 30.0) -> None:
        """SIGTERM the broker, wait up to ``grace`` seconds, then SIGKILL it."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        started = time.monotonic()
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            status(f"broker did not stop within {grace:.0f}s: killing it")
            process.kill()
            await process.wait()
        status(f"broker on {self.bootstrap_servers} stopped in {time.monotonic() - started:.1f}s")

    async def kill(self) -> None:
        """SIGKILL the broker (no clean shutdown) and wait until it is gone."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.kill()
        await process.wait()
        status(f"broker on {self.bootstrap_servers} killed (SIGKILL)")

    async def wait_exited(self) -> int:
        """Wait until the broker process exits; return its exit code."""
        if self._process is None:
            raise BrokerError("the broker was never started")
        return await self._process.wait()


async def probe(access: KafkaAccess, *, replication_factor: int = 1) -> None:
    """Produce a record with acks=all, fetch it back and look up the group coordinator.

    On a cluster the probe topic is replicated ``replication_factor`` times, so that the
    probe of a restarting node does not depend on another node being up.

    Raises ``OSError`` or ``KafkaError`` while the broker is not fully serving, and
    ``BrokerError`` if the record read back differs.
    """
    host, port = access.bootstrap_servers.split(",")[0].rsplit(":", 1)
    # A plain connect first: aiokafka logs an error for each refused bootstrap connection.
    _, writer = await asyncio.open_connection(host, int(port))
    writer.close()
    await writer.wait_closed()
    if replication_factor > 1:
        # The probe topic can only be created once enough brokers have registered.
        client = AIOKafkaClient(**access.client_options())
        await client.bootstrap()
        try:
            await client.force_metadata_update()
            registered = len(client.cluster.brokers())
        finally:
            await client.close()
        if registered < replication_factor:
            raise BrokerNotAvailableError(f"{registered} of {replication_factor} brokers up")
    await ensure_topics(access, {PROBE_TOPIC: 1}, replication_factor=replication_factor)
    token = uuid.uuid4().bytes
    producer = AIOKafkaProducer(**access.client_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        written = await producer.send_and_wait(PROBE_TOPIC, token)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(PROBE_TOPIC, written.partition)
        consumer.assign([partition])
        consumer.seek(partition, written.offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    if record.value != token:
        raise BrokerError(f"probe read back {record.value!r} instead of {token!r}")
    # Finding the group coordinator creates __consumer_offsets and waits until it is loaded.
    client = AIOKafkaClient(**access.client_options())
    await client.bootstrap()
    try:
        await client.coordinator_lookup(CoordinationType.GROUP, PROBE_GROUP)
    finally:
        await client.close()


async def ensure_topics(
    access: KafkaAccess,
    partitions: Mapping[str, int] = PARTITIONS,
    *,
    replication_factor: int = 1,
    leaders_within: float = 30.0,
    topic_configs: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet (as the admin) and wait until all of them
    have leaders. A project topic gets its documented retention
    (``shared.topics.retention_configs``), also when it exists already (an older
    ``.run/kafka`` whose topics kept everything).

    With ``replication_factor`` above 1, new topics also get
    ``min.insync.replicas=2`` unless ``topic_configs`` says otherwise.
    Raises ``BrokerError`` if a topic exists with another partition count.
    """
    configs = dict(topic_configs or {})
    if replication_factor > 1:
        configs.setdefault("min.insync.replicas", str(min(replication_factor, 2)))
    wanted = {name: {**retention_configs(name), **configs} for name in partitions}
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(name, count, replication_factor, topic_configs=wanted[name])
                for name, count in partitions.items()
            ]
        )
        existing = [
            topic
            for topic, code, *_ in response.topic_errors
            if code == TopicAlreadyExistsError.errno and retention_configs(topic)
        ]
        if existing:
            await _set_configs(admin, {topic: wanted[topic] for topic in existing})
        for topic, code, *_ in response.topic_errors:
            if code == InvalidReplicationFactorError.errno:
                # Too few unfenced brokers yet (a cluster still starting): retriable.
                raise InvalidReplicationFactorError(f"cannot create topic {topic} yet")
            if code not in (0, TopicAlreadyExistsError.errno):
                raise BrokerError(f"cannot create topic {topic}: {for_code(code).__name__}")
        async with asyncio.timeout(leaders_within):
            while True:
                if await _topics_led(admin, partitions):
                    return
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _set_configs(admin: AIOKafkaAdminClient, configs: Mapping[str, dict[str, str]]) -> None:
    """Set the topic-level configs of existing topics (AlterConfigs replaces a topic's
    whole set, so ``configs`` holds each topic's full set, as at creation)."""
    response = await admin.alter_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, topic, wanted)
            for topic, wanted in configs.items()
        ]
    )
    for result in response:
        for code, message, _type, name in result.resources:
            if code != 0:
                raise BrokerError(f"cannot set the configs of topic {name}: {message}")


async def _topics_led(admin: AIOKafkaAdminClient, partitions: Mapping[str, int]) -> bool:
    """Whether every topic is known with its partition count and a leader per partition."""
    for described in await admin.describe_topics(list(partitions)):
        name = described["topic"]
        if described["error_code"] != 0:
            return False
        if len(described["partitions"]) != partitions[name]:
            raise BrokerError(
                f"topic {name} has {len(described['partitions'])} partitions,"
                f" {partitions[name]} expected"
            )
        if any(partition["leader"] < 0 for partition in described["partitions"]):
            return False
    return True


async def secure(access: KafkaAccess, **topic_options: Any) -> None:
    """The project topics and every service's ACLs (both kept if they exist)."""
    await ensure_topics(access, **topic_options)
    await create_acls(access)


async def ensure_kafka(
    data_dir: Path, *, port: int = 0, ready_within: float = READY_WITHIN_S
) -> tuple[KafkaAccess, KafkaBroker | None]:
    """How to reach a Kafka with the project topics and ACLs, and the broker if we
    started one.

    With ``KAFKA_BOOTSTRAP_SERVERS`` set, only ensures the topics there (connecting as
    ``DOCKET_KAFKA_*`` say; ACLs are that cluster's operators' business) and returns
    ``(access, None)``; otherwise starts a ``KafkaBroker`` in ``data_dir`` on ``port``
    (0: a free one), creates the topics and the ACLs. The caller stops the broker.
    """
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        status(f"using {BOOTSTRAP_ENV}={external}")
        access = KafkaAccess(external)
        await ensure_topics(access)
        return access, None
    broker = KafkaBroker(data_dir, port=port)
    await broker.start(ready_within=ready_within)
    try:
        await secure(broker.access)
    except BaseException:
        await broker.stop()
        raise
    return broker.access, broker


class KafkaCluster:
    """Three combined broker+controller nodes on 127.0.0.1 with a static 3-voter quorum.

    Node ``i`` (1..3) lives in ``data_dir/node-i`` on free ports chosen once, so a node
    that is stopped or killed comes back on the same address with its data. The project
    topics are created at replication factor 3 with ``min.insync.replicas=2``.

    ``hosts`` and ``netns`` (node id -> address, network namespace) put a node on an
    address of its own inside a namespace of its own (see ``KafkaBroker``); the
    brokers' certificate is then valid for those addresses too.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        size: int = CLUSTER_SIZE,
        heap: str = CLUSTER_HEAP,
        hosts: Mapping[int, str] | None = None,
        netns: Mapping[int, str] | None = None,
    ):
        ports = free_ports(3 * size)
        self.cluster_id = new_cluster_id()
        self.replication_factor = min(size, 3)
        host_of = {node_id: (hosts or {}).get(node_id, HOST) for node_id in range(1, size + 1)}
        #: One CA, broker certificate and set of users for all nodes, in ``data_dir``.
        self.security = BrokerSecurity.prepare(
            data_dir, addresses=tuple(sorted(set(host_of.values()) - {HOST}))
        )
        voters = ",".join(
            f"{node_id}@{host_of[node_id]}:{ports[3 * index + 2]}"
            for index, node_id in enumerate(range(1, size + 1))
        )
        self.nodes: dict[int, KafkaBroker] = {
            node_id: KafkaBroker(
                data_dir / f"node-{node_id}",
                port=ports[3 * index],
                mtls_port=ports[3 * index + 1],
                controller_port=ports[3 * index + 2],
                node_id=node_id,
                quorum_voters=voters,
                cluster_id=self.cluster_id,
                replication_factor=self.replication_factor,
                heap=heap,
                security=self.security,
                host=host_of[node_id],
                netns=(netns or {}).get(node_id),
            )
            for index, node_id in enumerate(range(1, size + 1))
        }

    @property
    def bootstrap_servers(self) -> str:
        """Every node's client (SASL_SSL) listener, comma-separated."""
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    @property
    def access(self) -> KafkaAccess:
        """How each Docket principal connects to the cluster (every node)."""
        return self.security.access(self.bootstrap_servers)

    def running_bootstrap_servers(self) -> str:
        """The listeners of the nodes that are running now."""
        return ",".join(node.bootstrap_servers for node in self.nodes.values() if node.running)

    def node_on_port(self, port: int) -> KafkaBroker:
        """The node whose client listener is ``port``."""
        for node in self.nodes.values():
            if node.port == port:
                return node
        raise KeyError(port)

    async def start(self, *, ready_within: float = 180.0) -> None:
        """Launch every node, wait until each serves, then create the project topics."""
        started = time.monotonic()
        try:
            for node in self.nodes.values():
                await node.launch()
            await asyncio.gather(
                *(node.wait_ready(within=ready_within) for node in self.nodes.values())
            )
            await secure(self.access, replication_factor=self.replication_factor)
            await self.wait_in_sync()
        except BaseException:
            await self.stop()
            raise
        status(
            f"cluster of {len(self.nodes)} ready on {self.bootstrap_servers}"
            f" in {time.monotonic() - started:.1f}s"
        )

    async def start_node(self, node_id: int, *, ready_within: float = 120.0) -> None:
        """(Re)start one node and wait until it serves; it keeps its ports and data."""
        await self.nodes[node_id].start(ready_within=ready_within)

    async def stop_node(self, node_id: int) -> None:
        """Stop one node cleanly (SIGTERM)."""
        await self.nodes[node_id].stop()

    async def kill_node(self, node_id: int) -> None:
        """SIGKILL one node."""
        await self.nodes[node_id].kill()

    async def stop(self) -> None:
        """Stop every running node."""
        await asyncio.gather(*(node.stop() for node in self.nodes.values()))

    async def wait_in_sync(
        self, topics: Mapping[str, int] = PARTITIONS, *, within: float = 120.0
    ) -> None:
        """Wait until every partition of ``topics`` has all its replicas in sync."""
        admin = AIOKafkaAdminClient(
            **self.access.with_servers(self.running_bootstrap_servers()).client_options()
        )
        await admin.start()
        try:
            async with asyncio.timeout(within):
                while True:
                    described = await admin.describe_topics(list(topics))
                    if all(
                        topic["error_code"] == 0
                        and all(
                            partition["leader"] >= 0
                            and len(partition["isr"]) == len(partition["replicas"])
                            for partition in topic["partitions"]
                        )
                        for topic in described
                    ):
                        return
                    await asyncio.sleep(0.5)
        finally:
            await admin.close()

    async def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> node id of its leader (-1: none) for ``topic``."""
        admin = AIOKafkaAdminClient(
            **self.access.with_servers(self.running_bootstrap_servers()).client_options()
        )
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return {
            int(partition["partition"]): int(partition["leader"])
            for partition in described["partitions"]
        }


async def _serve(data_dir: Path, port: int, ready_within: float) -> int:
    """Run a broker until SIGINT/SIGTERM (or until it dies); return the exit code."""
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    stop_waiter = asyncio.create_task(stop_requested.wait())
    starting = asyncio.create_task(ensure_kafka(data_dir, port=port, ready_within=ready_within))
    try:
        await asyncio.wait({starting, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()  # stops the broker if it was already launched
            await asyncio.wait({starting})
            status("interrupted while starting")
            return 130
        access, broker = starting.result()
        print(access.bootstrap_servers, flush=True)
        if broker is None:
            return 0
        status(
            f"SASL_SSL (SCRAM-SHA-512): CA {broker.security.tls.ca_file},"
            f" users and passwords in {broker.security.users_file}"
        )
        status("running; Ctrl-C or SIGTERM stops it")
        exited = asyncio.create_task(broker.wait_exited())
        await asyncio.wait({stop_waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not broker.running:
            status(f"the broker exited on its own\n{broker.log_tail()}")
            return 1
        await broker.stop()
        return 0
    finally:
        stop_waiter.cancel()


async def _serve_cluster(data_dir: Path) -> int:
    """Run a ``KafkaCluster`` until SIGINT/SIGTERM; print its bootstrap servers."""
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    cluster = KafkaCluster(data_dir)
    try:
        await cluster.start()
        print(cluster.bootstrap_servers, flush=True)
        status("running; Ctrl-C or SIGTERM stops it")
        await stop_requested.wait()
        return 0
    finally:
        await cluster.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m deploy.kafka.launcher``."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.kafka.launcher", description="Local Apache Kafka (KRaft)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="download the broker's jars into .cache/kafka")
    start = commands.add_parser(
        "start", help="start a broker, create the project topics, run until interrupted"
    )
    start.add_argument("--data-dir", type=Path, required=True, help="kept across restarts")
    start.add_argument(
        "--port", type=int, default=9092, help="client (SASL_SSL) port (0: a free one)"
    )
    start.add_argument("--ready-within", type=float, default=120.0, help="seconds to become ready")
    cluster = commands.add_parser(
        "cluster", help="start a 3-node cluster on free ports, run until interrupted"
    )
    cluster.add_argument("--data-dir", type=Path, required=True, help="one folder per node")
    topics_command = commands.add_parser(
        "topics",
        help=f"create the project topics on the cluster named by {BOOTSTRAP_ENV}, connecting"
        " as DOCKET_KAFKA_* say",
    )
    topics_command.add_argument(
        "--acls", action="store_true", help="also create every service's ACLs (as the admin)"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch_jars())
            return 0
        if args.command == "topics":
            servers = os.environ.get(BOOTSTRAP_ENV, "").strip()
            if not servers:
                status(f"error: set {BOOTSTRAP_ENV} to the cluster to create the topics on")
                return 2
            access = KafkaAccess(servers)
            asyncio.run(secure(access) if args.acls else ensure_topics(access))
            status(f"topics{' and ACLs' if args.acls else ''} ready on {servers}")
            return 0
        if args.command == "cluster":
            return asyncio.run(_serve_cluster(args.data_dir))
        return asyncio.run(_serve(args.data_dir, args.port, args.ready_within))
    except (BrokerError, KafkaError, TimeoutError) as error:
        status(f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
