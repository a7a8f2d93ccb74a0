"""Kafka adapter: has the notifier read every amendment Kafka has acknowledged?

(Counsel's decisions on ``docket.request.counsel`` are waited for the same way.)

``docket.request.classified`` and ``docket.request.amended`` are separate topics with no
order between them, so after an outage the notifier may hold a verdict that says
"notify now" while the amendment that gags the request is still unread. Before notices
go out, the dispatcher asks this barrier: it takes the amended topic's end offsets and
waits until the notifier's consumer group has committed at least that far. Handlers
commit only after their database transaction, so every amendment acknowledged before
the check is then in the notifier's database, where the send-time check sees it. When
Kafka cannot answer, the barrier says no: notices wait, they are not sent blind.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import topics
from shared.kafka import server_list
from shared.kafka_security import KafkaSecurity, client_options

log = structlog.get_logger("docket.notifier.barrier")

#: The topics whose every acknowledged record is read before a notice is released.
BARRIER_TOPICS = (topics.REQUEST_AMENDED, topics.REQUEST_COUNSEL)


class AmendmentBarrier:
    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        security: KafkaSecurity,
        *,
        wait_s: float = 10.0,
        poll_s: float = 0.1,
    ) -> None:
        self._servers = server_list(bootstrap_servers)
        self._security = security
        self._group_id = group_id
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None

    async def start(self) -> None:
        """Connect (aiokafka clients must be created inside the running event loop)."""
        options = client_options(self._security)
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._servers, request_timeout_ms=5_000, **options
        )
        offsets = AIOKafkaConsumer(
            bootstrap_servers=self._servers, group_id=None, enable_auto_commit=False, **options
        )
        await admin.start()
        await offsets.start()
        self._clients = (admin, offsets)

    async def stop(self) -> None:
        if self._clients is not None:
            admin, offsets = self._clients
            self._clients = None
            await offsets.stop()
            await admin.close()

    async def caught_up(self) -> datetime | None:
        """Once the group has processed every amendment written before this call: the
        moment the end offsets were taken (everything acknowledged by then is read).
        None when it has not caught up in time, or Kafka cannot tell."""
        if self._clients is None:
            return None
        admin, offsets = self._clients
        try:
            wanted = await self._amended_partitions(admin)
            if not wanted:
                log.warning("amendment_barrier_sees_no_partitions", topics=BARRIER_TOPICS)
                return None
            taken_at = datetime.now(UTC)
            end = await offsets.end_offsets(wanted)
            deadline = asyncio.get_running_loop().time() + self._wait_s
            while True:
                committed = await admin.list_consumer_group_offsets(
                    self._group_id, partitions=wanted
                )
                behind = [
                    tp
                    for tp in wanted
                    if tp not in end
                    or (end[tp] > 0 and (tp not in committed or committed[tp].offset < end[tp]))
                ]
                if not behind:
                    return taken_at
                if asyncio.get_running_loop().time() >= deadline:
                    log.info("notices_wait_for_unread_amendments", partitions=len(behind))
                    return None
                await asyncio.sleep(self._poll_s)
        except Exception as error:  # Kafka unreachable: fail closed
            log.warning("amendment_barrier_unavailable", error=type(error).__name__)
            return None

    @staticmethod
    async def _amended_partitions(admin: AIOKafkaAdminClient) -> list[TopicPartition]:
        """Every partition of the topics that can forbid a notice (amendments, and
        counsel's decisions: a notice withheld for good, a requester found a fraud),
        asked of the broker each time: a client's cached metadata may not list a topic
        yet (a fresh consumer learns it only at its first periodic refresh), and an
        empty list would read as "nothing to wait for". An error, or a topic without
        partitions, gives an empty list."""
        described = await admin.describe_topics(list(BARRIER_TOPICS))
        found = {
            topic["topic"]: [
                TopicPartition(topic["topic"], partition["partition"])
                for partition in topic["partitions"]
            ]
            for topic in described
            if topic["topic"] in BARRIER_TOPICS and topic["error_code"] == 0
        }
        if any(not found.get(name) for name in BARRIER_TOPICS):
            return []
        return [partition for name in BARRIER_TOPICS for partition in found[name]]
