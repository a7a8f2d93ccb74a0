"""A real Apache Kafka broker (KRaft mode) for local runs, tests and CI, without Docker.

The broker's jars come from Maven Central through ``deploy/kafka/pom.xml`` (the only place
the Kafka version is written) into ``.cache/kafka/<version>/libs``. One ``KafkaBroker`` is
one combined broker+controller node; it runs as a ``java`` subprocess on 127.0.0.1.

CLI::

    python -m deploy.kafka.launcher fetch
    python -m deploy.kafka.launcher start --data-dir DIR [--port 9092]

With ``KAFKA_BOOTSTRAP_SERVERS`` set, nothing is started: the project topics are only
ensured on that cluster.
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
from typing import Final

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import CoordinationType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from shared.topics import PARTITIONS

HERE: Final = Path(__file__).resolve().parent
POM: Final = HERE / "pom.xml"
LOG4J_CONFIG: Final = HERE / "log4j2.xml"
CACHE_DIR: Final = HERE.parents[1] / ".cache" / "kafka"
BOOTSTRAP_ENV: Final = "KAFKA_BOOTSTRAP_SERVERS"
HOST: Final = "127.0.0.1"
HEAP: Final = "512m"
#: Single-partition topic the readiness probe writes to and reads back from.
PROBE_TOPIC: Final = "docket.broker-probe"
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
    controller_port: int,
    log_dir: Path,
    quorum_bootstrap_servers: str,
    replication_factor: int,
) -> str:
    """``server.properties`` of one combined broker+controller node on 127.0.0.1.

    A cluster of several nodes gives every node the same ``quorum_bootstrap_servers`` (all
    controller endpoints) and a ``replication_factor`` up to the node count.
    """
    properties = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.bootstrap.servers": quorum_bootstrap_servers,
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "offsets.topic.replication.factor": str(replication_factor),
        "transaction.state.log.replication.factor": str(replication_factor),
        "transaction.state.log.min.isr": str(min(replication_factor, 2)),
        "share.coordinator.state.topic.replication.factor": str(replication_factor),
        "share.coordinator.state.topic.min.isr": str(min(replication_factor, 2)),
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


class KafkaBroker:
    """One combined broker+controller node running as a ``java`` subprocess.

    Files in ``data_dir``: ``server.properties``, ``broker.log`` (the broker's output) and
    ``data/`` (the Kafka log directory, formatted on first start and kept across restarts).
    Ports default to free ones, chosen once, so a restart comes back on the same address.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        controller_port: int = 0,
        node_id: int = 1,
    ) -> None:
        chosen = iter(free_ports(2))
        self.data_dir = data_dir.resolve()
        self.node_id = node_id
        self.port = port or next(chosen)
        self.controller_port = controller_port or next(chosen)
        self.properties_file = self.data_dir / "server.properties"
        self.log_file = self.data_dir / "broker.log"
        self.log_dir = self.data_dir / "data"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the PLAINTEXT listener."""
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process was started and has not exited."""
        return self._process is not None and self._process.returncode is None

    async def start(self, *, ready_within: float = 120.0) -> None:
        """Format storage if new, start the broker and wait until it serves produce and fetch."""
        if self.running:
            return
        libs = await asyncio.to_thread(fetch_jars)
        classpath = f"{libs}/*"
        await asyncio.to_thread(self._write_properties)
        if not (self.log_dir / "meta.properties").is_file():
            await self._format(classpath)
        status(f"starting broker on {self.bootstrap_servers} (data in {self.data_dir})")
        started = time.monotonic()
        command = [
            java_executable(),
            f"-Xms{HEAP}",
            f"-Xmx{HEAP}",
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
        try:
            await self.wait_ready(within=ready_within)
        except BaseException:
            await self.stop()
            raise
        status(f"broker ready on {self.bootstrap_servers} in {time.monotonic() - started:.1f}s")

    def _write_properties(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(
            server_properties(
                node_id=self.node_id,
                port=self.port,
                controller_port=self.controller_port,
                log_dir=self.log_dir,
                quorum_bootstrap_servers=f"{HOST}:{self.controller_port}",
                replication_factor=1,
            )
        )

    async def _format(self, classpath: str) -> None:
        """Format the log directory as a new single-controller cluster."""
        process = await asyncio.create_subprocess_exec(
            java_executable(),
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            new_cluster_id(),
            "-c",
            str(self.properties_file),
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

    async def wait_ready(self, *, within: float = 120.0) -> None:
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
                attempt = asyncio.create_task(probe(self.bootstrap_servers))
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

    async def wait_exited(self) -> int:
        """Wait until the broker process exits; return its exit code."""
        if self._process is None:
            raise BrokerError("the broker was never started")
        return await self._process.wait()


async def probe(bootstrap_servers: str) -> None:
    """Produce a record with acks=all, fetch it back and look up the group coordinator.

    Raises ``OSError`` or ``KafkaError`` while the broker is not fully serving, and
    ``BrokerError`` if the record read back differs.
    """
    host, port = bootstrap_servers.rsplit(":", 1)
    # A plain connect first: aiokafka logs an error for each refused bootstrap connection.
    _, writer = await asyncio.open_connection(host, int(port))
    writer.close()
    await writer.wait_closed()
    await ensure_topics(bootstrap_servers, {PROBE_TOPIC: 1})
    token = uuid.uuid4().bytes
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        written = await producer.send_and_wait(PROBE_TOPIC, token)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
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
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers)
    await client.bootstrap()
    try:
        await client.coordinator_lookup(CoordinationType.GROUP, PROBE_GROUP)
    finally:
        await client.close()


async def ensure_topics(
    bootstrap_servers: str,
    partitions: Mapping[str, int] = PARTITIONS,
    *,
    replication_factor: int = 1,
    leaders_within: float = 30.0,
) -> None:
    """Create the topics that do not exist yet and wait until all of them have leaders.

    Raises ``BrokerError`` if a topic exists with another partition count.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, count, replication_factor) for name, count in partitions.items()]
        )
        for topic, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise BrokerError(f"cannot create topic {topic}: {for_code(code).__name__}")
        async with asyncio.timeout(leaders_within):
            while True:
                if await _topics_led(admin, partitions):
                    return
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


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


async def ensure_kafka(
    data_dir: Path, *, port: int = 0, ready_within: float = 120.0
) -> tuple[str, KafkaBroker | None]:
    """Bootstrap servers of a Kafka with the project topics, and the broker if we started one.

    With ``KAFKA_BOOTSTRAP_SERVERS`` set, only ensures the topics there and returns
    ``(servers, None)``; otherwise starts a ``KafkaBroker`` in ``data_dir`` on ``port``
    (0: a free one). The caller stops the returned broker.
    """
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        status(f"using {BOOTSTRAP_ENV}={external}")
        await ensure_topics(external)
        return external, None
    broker = KafkaBroker(data_dir, port=port)
    await broker.start(ready_within=ready_within)
    try:
        await ensure_topics(broker.bootstrap_servers)
    except BaseException:
        await broker.stop()
        raise
    return broker.bootstrap_servers, broker


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
        bootstrap, broker = starting.result()
        print(bootstrap, flush=True)
        if broker is None:
            return 0
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
    start.add_argument("--port", type=int, default=9092, help="PLAINTEXT port (0: a free one)")
    start.add_argument("--ready-within", type=float, default=120.0, help="seconds to become ready")
    commands.add_parser(
        "topics", help=f"create the project topics on the cluster named by {BOOTSTRAP_ENV}"
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
            asyncio.run(ensure_topics(servers))
            status(f"topics ready on {servers}")
            return 0
        return asyncio.run(_serve(args.data_dir, args.port, args.ready_within))
    except (BrokerError, KafkaError, TimeoutError) as error:
        status(f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
