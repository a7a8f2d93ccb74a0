"""Settings every service reads from the environment (documented in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """``KAFKA_BOOTSTRAP_SERVERS`` and ``DOCKET_*`` variables shared by all services."""

    model_config = SettingsConfigDict(
        env_prefix="DOCKET_", extra="ignore", frozen=True, populate_by_name=True
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "DOCKET_KAFKA_BOOTSTRAP_SERVERS"),
    )
    #: How long a service keeps retrying an unreachable broker at start before it exits.
    kafka_connect_timeout_s: float = 30.0
    #: How a client reaches the broker (see ``shared/kafka_security.py``): SASL_SSL with
    #: SCRAM by default; SSL with a client certificate is mTLS; PLAINTEXT and
    #: SASL_PLAINTEXT are refused unless ``development_mode`` is on.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    #: This service's own Kafka principal and its password.
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    #: The CA the broker's certificate must chain to (none: the system's CAs).
    kafka_ssl_cafile: Path | None = None
    #: A client certificate and its key (PEM) for mutual TLS.
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    #: Allows what is only safe on a developer's machine (Kafka without TLS).
    development_mode: bool = False
    database_url: str | None = None
    accounts_file: Path | None = None
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    #: Consumers in one group share partitions; two instances of a service use the
    #: same group id. Set per instance for static membership (fewer rebalances).
    instance_id: str | None = None
    #: How long a publish waits for others to share its batch. Services that publish
    #: one record at a time and wait for it (the consumers) gain nothing from waiting.
    kafka_linger_ms: int = 0


class IntakeSettings(CommonSettings):
    port: int = Field(default=8080, validation_alias=AliasChoices("DOCKET_INTAKE_PORT"))
    #: Where clients read a request's status (the audit service).
    audit_base_url: str = "http://127.0.0.1:8083"
    #: A publish not acknowledged by Kafka within this time is answered 503.
    publish_timeout_s: float = 5.0
    #: ``client_id:scope,scope:secret`` (scopes: submit, amend, decide; secret of at
    #: least 32 characters): hashed and stored as key ``bootstrap-<client_id>`` at start.
    bootstrap_key: str | None = Field(
        default=None, validation_alias=AliasChoices("DOCKET_INTAKE_BOOTSTRAP_KEY")
    )
    #: Connections of intake's PostgreSQL pool (one is held per write while it publishes).
    database_pool_size: int = 10
    #: Concurrent requests publish together: 5 ms lets them share a batch.
    kafka_linger_ms: int = 5


class ClassifierSettings(CommonSettings):
    port: int = Field(default=8081, validation_alias=AliasChoices("DOCKET_CLASSIFIER_PORT"))
    #: Every classifier instance joins this group and they share the partitions.
    consumer_group: str = "docket-classifier"
    policy_dir: Path | None = None
    #: A candidate policy run beside the active one (``DOCKET_SHADOW_POLICY_DIR``): its
    #: verdicts go to ``docket.request.classified.shadow`` and are never acted on.
    shadow_policy_dir: Path | None = None


class NotifierSettings(CommonSettings):
    port: int = Field(default=8082, validation_alias=AliasChoices("DOCKET_NOTIFIER_PORT"))
    #: Every notifier instance joins this group and they share the partitions.
    consumer_group: str = "docket-notifier"
    #: E-mail notices: an SMTP server (none configured: e-mail notices fail and stay
    #: pending until one is).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "notices@docket.local"
    #: In-app notices: the platform's notification endpoint and the HMAC secret.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    dispatch_poll_interval_s: float = 1.0


class AuditSettings(CommonSettings):
    port: int = Field(default=8083, validation_alias=AliasChoices("DOCKET_AUDIT_PORT"))
    signing_key_file: Path | None = None
    signing_key: str | None = None
    #: Sign a tree head this often when the log grew (one instance signs, under a
    #: PostgreSQL advisory lock); 0 turns the periodic signer off.
    tree_head_interval_s: float = 30.0
    #: Consumer groups are ``<prefix>-ingest`` and ``<prefix>-log``. A fresh prefix and
    #: an empty database replay the ledger from its start.
    consumer_group_prefix: str = "docket-audit"
    #: False: only write the ledger into the database (replay), copy no Docket topic.
    ingest: bool = True
    #: National-security process is published only in bands of this width (50 U.S.C.
    #: 1874: 1000, 500, 250 or, annually, 100).
    national_security_band: int = 250
