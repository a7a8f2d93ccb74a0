"""The broker itself enforces who may read and write what (``shared/kafka_acl.py``).

On the session's real broker: a ``RequestAmended`` lifting a gag, forged by any principal
other than intake, or by a client that is not authenticated, is refused and never
reaches ``docket.request.amended``; a consumer cannot read a topic or join a group it is
not granted; every service can do exactly what it needs; the client listener speaks
only TLS and the mTLS listener wants a certificate of the broker's CA.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from cryptography import x509
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from deploy.kafka.launcher import KafkaBroker
from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.events import RequestAmended, envelope_for
from shared.kafka import EventPublisher, create_broker
from shared.kafka_acl import SERVICE_ACCESS, SERVICES, principal_of
from shared.kafka_security import KafkaSecurity, client_options
from shared.submission import Nondisclosure

pytestmark = pytest.mark.integration

#: Forged gag lifts the broker refused in this module (printed at its end).
REFUSED: list[str] = []


def forged_lift(request_id: str) -> RequestAmended:
    """What an attacker would write: a well-formed amendment vacating the gag order."""
    return RequestAmended(
        request_id=request_id,
        nondisclosure=Nondisclosure(ordered=False),
        note="order vacated",
        effective_at=datetime.now(UTC),
        submitted_by="legal-ops",
    )


async def produce(options: dict[str, Any], topic: str, key: str, value: bytes) -> None:
    """One record with the services' producer settings (acks=all, idempotent)."""
    producer = AIOKafkaProducer(
        **options, acks="all", enable_idempotence=True, request_timeout_ms=10_000
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def bootstrap(options: dict[str, Any]) -> None:
    """Connect and fetch metadata, nothing more."""
    client = AIOKafkaClient(**options, request_timeout_ms=5_000)
    try:
        await client.bootstrap()
    finally:
        await client.close()


async def keys_on(kafka: KafkaAccess, topic: str) -> set[bytes]:
    """Every record key on ``topic`` from its start, read as the admin."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(topics.PARTITIONS[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        keys: set[bytes] = set()
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1_000)).values():
                keys.update(record.key for record in records if record.key is not None)
        return keys
    finally:
        await consumer.stop()


async def read_as_group(kafka: KafkaAccess, principal: str, topic: str, group: str) -> None:
    """Join ``group`` as ``principal`` and read ``topic`` the way a service does."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(principal),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        request_timeout_ms=10_000,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_a_forged_gag_lift_is_refused_for_every_principal_but_intake(
    kafka_access: KafkaAccess, kafka_broker_handle: KafkaBroker, tmp_path: Path
) -> None:
    broker = kafka_broker_handle
    request_id = f"forged-{secrets.token_hex(6)}"
    value = envelope_for(forged_lift(request_id), source="/docket/intake").to_bytes()
    forgers = [s for s in SERVICES if topics.REQUEST_AMENDED not in SERVICE_ACCESS[s].writes]
    assert forgers == ["classifier", "notifier", "audit"]

    # Each service's own credentials, with a raw producer and with the service's broker.
    for service in forgers:
        principal = principal_of(service)
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(kafka_access.client_options(principal), topics.REQUEST_AMENDED,
                          request_id, value)  # fmt: skip
        REFUSED.append(f"{principal} (aiokafka)")
        faststream = create_broker(
            kafka_access.bootstrap_servers,
            service,
            TracerProvider(),
            CollectorRegistry(),
            kafka_access.security(principal),
        )
        await faststream.start()
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await EventPublisher(faststream, "/docket/intake").publish(forged_lift(request_id))
            REFUSED.append(f"{principal} (FastStream)")
        finally:
            await faststream.stop()

    # A certificate of the broker's CA for the notifier: mTLS gives it the same principal.
    cert, key = broker.security.tls.issue_client_certificate(principal_of("notifier"), tmp_path)
    mtls = KafkaSecurity(protocol="SSL", cafile=kafka_access.ca_file, certfile=cert, keyfile=key)
    mtls_options = {"bootstrap_servers": f"127.0.0.1:{broker.mtls_port}", **client_options(mtls)}
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(mtls_options, topics.REQUEST_AMENDED, request_id, value)
    REFUSED.append("docket-notifier (mTLS certificate)")

    # Nobody authenticated: no TLS, a wrong password, no client certificate.
    intake = kafka_access.security(principal_of("intake"))
    unauthenticated = {
        "PLAINTEXT, no credentials": {"security_protocol": "PLAINTEXT"},
        "intake's name, wrong password": client_options(
            intake.model_copy(update={"password": SecretStr("not-" + secrets.token_hex(8))})
        ),
        "SASL without TLS": client_options(
            intake.model_copy(update={"protocol": "SASL_PLAINTEXT", "development_mode": True})
        ),
    }
    for label, options in unauthenticated.items():
        with pytest.raises(KafkaConnectionError):
            await produce(
                {"bootstrap_servers": kafka_access.bootstrap_servers, **options},
                topics.REQUEST_AMENDED,
                request_id,
                value,
            )
        REFUSED.append(label)
    no_certificate = KafkaSecurity(
        protocol="SSL", cafile=kafka_access.ca_file, development_mode=True
    )
    with pytest.raises(KafkaConnectionError):
        await produce(
            {
                "bootstrap_servers": f"127.0.0.1:{broker.mtls_port}",
                **client_options(no_certificate),
            },
            topics.REQUEST_AMENDED,
            request_id,
            value,
        )
    REFUSED.append("mTLS listener, no client certificate")

    assert request_id.encode() not in await keys_on(kafka_access, topics.REQUEST_AMENDED)
    # Intake, whose topic it is, is let through: the refusals were about who, not what.
    await produce(kafka_access.client_options(principal_of("intake")), topics.REQUEST_AMENDED,
                  request_id, value)  # fmt: skip
    assert request_id.encode() in await keys_on(kafka_access, topics.REQUEST_AMENDED)
    print(f"\nFORGED RECORDS REFUSED BY THE BROKER: {len(REFUSED)}: {REFUSED}", flush=True)
    assert len(REFUSED) == 11


@pytest.mark.parametrize(
    ("service", "topic"),
    [
        ("notifier", topics.REQUEST_DECIDED),
        ("classifier", topics.NOTIFICATION),
        ("classifier", topics.REQUEST_COUNSEL),
        ("notifier", topics.AUDIT_LEDGER),
    ],
)
async def test_a_consumer_cannot_read_a_topic_it_is_not_granted(
    kafka_access: KafkaAccess, service: str, topic: str
) -> None:
    """In its own consumer group (which it may use), the topic is what is refused."""
    assert topic not in SERVICE_ACCESS[service].reads
    group = f"docket-{service}-acl-{secrets.token_hex(4)}"
    with pytest.raises(TopicAuthorizationFailedError):
        await read_as_group(kafka_access, principal_of(service), topic, group)


@pytest.mark.parametrize(
    ("service", "group"),
    [
        # The classifier reads the amended topic, but not in the notifier's group (it
        # would take partitions from the notifier and commit its offsets).
        ("classifier", "docket-notifier"),
        ("notifier", "docket-audit"),
        # Intake consumes nothing: no group at all.
        ("intake", "docket-intake"),
    ],
)
async def test_a_consumer_cannot_join_another_services_group(
    kafka_access: KafkaAccess, service: str, group: str
) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await read_as_group(
            kafka_access,
            principal_of(service),
            topics.REQUEST_AMENDED,
            f"{group}-{secrets.token_hex(4)}",
        )


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_can_write_and_read_what_it_needs(
    kafka_access: KafkaAccess, service: str
) -> None:
    access = SERVICE_ACCESS[service]
    principal = principal_of(service)
    for topic in access.writes:  # not a Docket event: consumers dead-letter it
        await produce(kafka_access.client_options(principal), topic, "acl-probe", b"acl probe")
    for topic in access.reads:
        group = f"{access.group_prefix}-acl-{secrets.token_hex(4)}"
        await read_as_group(kafka_access, principal, topic, group)


async def test_the_client_listener_speaks_only_tls_with_the_brokers_certificate(
    kafka_access: KafkaAccess, kafka_broker_handle: KafkaBroker
) -> None:
    broker = kafka_broker_handle
    host, port = kafka_access.bootstrap_servers.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(kafka_access.ca_file))
    _, writer = await asyncio.open_connection(host, int(port), ssl=context)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    finally:
        writer.close()
        await writer.wait_closed()
    certificate = x509.load_der_x509_certificate(der)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    # A broker certificate from a CA the client does not trust is refused by the client.
    untrusted = KafkaSecurity(
        username=principal_of("intake"), password=kafka_access.passwords[principal_of("intake")]
    )
    with pytest.raises(KafkaConnectionError):
        await bootstrap(
            {"bootstrap_servers": kafka_access.bootstrap_servers, **client_options(untrusted)}
        )
    # Plain Kafka protocol on every listener: the broker closes the connection.
    for listener in (broker.port, broker.mtls_port, broker.controller_port):
        with pytest.raises(KafkaConnectionError):
            await bootstrap(
                {"bootstrap_servers": f"127.0.0.1:{listener}", "security_protocol": "PLAINTEXT"}
            )
