"""Kafka client security from settings, and the ACL table against the event contract."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLScram512
from pydantic import SecretStr

from shared import topics
from shared.contract import PRODUCERS, SUBSCRIPTIONS
from shared.events import EVENT_CLASSES
from shared.kafka_acl import SERVICE_ACCESS, acl_rules
from shared.kafka_security import (
    KafkaSecurity,
    KafkaSecurityError,
    client_options,
    faststream_security,
)
from shared.settings import ClassifierSettings

SCRAM = KafkaSecurity(username="docket-intake", password=SecretStr("s3cret"))


def test_the_default_is_scram_over_tls_with_hostname_verification() -> None:
    settings = ClassifierSettings(
        kafka_username="docket-classifier", kafka_password=SecretStr("pw")
    )
    security = KafkaSecurity.from_settings(settings)
    assert (security.protocol, security.mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    options = client_options(security)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "docket-classifier"
    assert options["sasl_plain_password"] == "pw"
    context: ssl.SSLContext = options["ssl_context"]
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_faststream_gets_the_same_security() -> None:
    scram = faststream_security(SCRAM)
    assert isinstance(scram, SASLScram512)
    assert (scram.username, scram.password, scram.use_ssl) == ("docket-intake", "s3cret", True)
    assert scram.ssl_context is not None
    assert scram.ssl_context.check_hostname is True


def test_the_password_never_shows_in_the_settings() -> None:
    assert "s3cret" not in repr(SCRAM)
    assert "s3cret" not in repr(ClassifierSettings(kafka_password=SecretStr("s3cret")))


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_unencrypted_kafka_is_refused_outside_development_mode(protocol: str) -> None:
    security = SCRAM.model_copy(update={"protocol": protocol})
    with pytest.raises(KafkaSecurityError, match="unencrypted"):
        client_options(security)
    with pytest.raises(KafkaSecurityError, match="DOCKET_DEVELOPMENT_MODE"):
        faststream_security(security)
    allowed = client_options(security.model_copy(update={"development_mode": True}))
    assert allowed["security_protocol"] == protocol
    assert "ssl_context" not in allowed


def test_plaintext_in_development_mode_has_no_security_object() -> None:
    assert faststream_security(KafkaSecurity(protocol="PLAINTEXT", development_mode=True)) is None


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"username": None}, "needs DOCKET_KAFKA_USERNAME"),
        ({"password": None}, "needs DOCKET_KAFKA_USERNAME and DOCKET_KAFKA_PASSWORD"),
        ({"certfile": Path("client.pem")}, "go together"),
        ({"protocol": "SSL"}, "authenticates nobody"),
    ],
)
def test_incomplete_settings_are_refused_with_the_setting_named(
    fields: dict[str, object], said: str
) -> None:
    with pytest.raises(KafkaSecurityError, match=said):
        client_options(SCRAM.model_copy(update=fields))


def test_mtls_loads_the_client_certificate(tmp_path: Path) -> None:
    from deploy.kafka.security import BrokerTls

    tls = BrokerTls(tmp_path / "tls")
    tls.ensure()
    cert, key = tls.issue_client_certificate("docket-notifier", tmp_path)
    security = KafkaSecurity(protocol="SSL", cafile=tls.ca_file, certfile=cert, keyfile=key)
    options = client_options(security)
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    mtls = faststream_security(security)
    assert type(mtls) is BaseSecurity
    assert mtls.use_ssl is True
    with pytest.raises(ssl.SSLError):  # a key that is not the certificate's
        client_options(security.model_copy(update={"keyfile": tls.ca_key_file}))


def test_each_service_writes_exactly_the_topics_of_the_events_it_produces() -> None:
    produced: dict[str, set[str]] = {}
    for cls in EVENT_CLASSES:
        producer = PRODUCERS[cls.EVENT_TYPE]
        if producer != "any consumer":
            produced.setdefault(producer, set()).add(cls.TOPIC)
    for service, access in SERVICE_ACCESS.items():
        expected = produced.get(service, set())
        if access.group_prefix is not None:  # a consumer dead-letters what it cannot read
            expected = expected | {topics.DEADLETTER}
        if service == "audit":
            expected = expected | {topics.AUDIT_LEDGER}
        assert set(access.writes) == expected, service


def test_each_consumer_reads_exactly_what_it_subscribes_to() -> None:
    for service, access in SERVICE_ACCESS.items():
        subscribed = set(SUBSCRIPTIONS.get(service, ()))
        if service == "audit":  # and its own ledger, which it builds the log from
            subscribed.add(topics.AUDIT_LEDGER)
        assert set(access.reads) == subscribed, service
        assert (access.group_prefix is None) == (not subscribed), service


def test_nobody_but_intake_may_write_an_amendment() -> None:
    writers = [s for s, a in SERVICE_ACCESS.items() if topics.REQUEST_AMENDED in a.writes]
    assert writers == ["intake"]
    rules = acl_rules(SERVICE_ACCESS["notifier"])
    assert [r.name for r in rules if r.operation == "Write"] == [
        topics.DEADLETTER,
        topics.NOTIFICATION,
    ]
