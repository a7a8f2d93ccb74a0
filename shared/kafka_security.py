"""How every Kafka client of Docket proves who it is and encrypts its connection.

One :class:`KafkaSecurity` comes from the settings (``DOCKET_KAFKA_SECURITY_PROTOCOL``,
``DOCKET_KAFKA_USERNAME`` ...), and the two functions here turn it into what the
clients take: :func:`client_options` for raw aiokafka producers, consumers and admin
clients, :func:`faststream_security` for a FastStream ``KafkaBroker``. Both build the
same TLS context (the CA of ``DOCKET_KAFKA_SSL_CAFILE`` or the system's, hostname
verification on, a client certificate for mTLS when one is set).

``SASL_SSL`` (SCRAM-SHA-512) is the default. ``PLAINTEXT`` and ``SASL_PLAINTEXT`` send
records, and SASL passwords' proofs, unencrypted: they are refused unless
``DOCKET_DEVELOPMENT_MODE`` is on.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.settings import CommonSettings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]
#: Protocols that carry records in clear text.
UNENCRYPTED: frozenset[str] = frozenset({"PLAINTEXT", "SASL_PLAINTEXT"})


class KafkaSecurityError(ValueError):
    """The Kafka security settings cannot work, or are unsafe outside development."""


class KafkaSecurity(BaseModel):
    """Who a client is to the broker and how its connection is protected."""

    model_config = ConfigDict(frozen=True)

    protocol: SecurityProtocol = "SASL_SSL"
    mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    #: The CA the broker's certificate must chain to (none: the system's CAs).
    cafile: Path | None = None
    #: A client certificate and its key: mutual TLS (the broker's ``SSL`` listener
    #: takes the certificate's common name as the principal).
    certfile: Path | None = None
    keyfile: Path | None = None
    development_mode: bool = False

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=settings.kafka_password,
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
            development_mode=settings.development_mode,
        )

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def checked(self) -> KafkaSecurity:
        """This configuration, or ``KafkaSecurityError`` saying in one sentence what is
        wrong with it."""
        if self.protocol in UNENCRYPTED and not self.development_mode:
            raise KafkaSecurityError(
                f"DOCKET_KAFKA_SECURITY_PROTOCOL={self.protocol} sends records unencrypted;"
                " it is for local development only (set DOCKET_DEVELOPMENT_MODE=true),"
                " use SASL_SSL or SSL"
            )
        if self.uses_sasl and (not self.username or self.password is None):
            raise KafkaSecurityError(
                f"DOCKET_KAFKA_SECURITY_PROTOCOL={self.protocol} needs DOCKET_KAFKA_USERNAME"
                " and DOCKET_KAFKA_PASSWORD"
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise KafkaSecurityError(
                "DOCKET_KAFKA_SSL_CERTFILE and DOCKET_KAFKA_SSL_KEYFILE go together (mTLS)"
            )
        if self.protocol == "SSL" and self.certfile is None and not self.development_mode:
            raise KafkaSecurityError(
                "DOCKET_KAFKA_SECURITY_PROTOCOL=SSL without DOCKET_KAFKA_SSL_CERTFILE"
                " authenticates nobody; use SASL_SSL, or mTLS with a client certificate"
            )
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of an encrypted protocol: the broker's certificate must chain
        to ``cafile`` (or a system CA) and name the host connected to."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.cafile) if self.cafile else None
        )
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.certfile is not None and self.keyfile is not None:
            context.load_cert_chain(str(self.certfile), str(self.keyfile))
        return context


def client_options(security: KafkaSecurity) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin, client)."""
    security = security.checked()
    options: dict[str, Any] = {"security_protocol": security.protocol}
    context = security.ssl_context()
    if context is not None:
        options["ssl_context"] = context
    if security.uses_sasl:
        assert security.password is not None  # checked()
        options["sasl_mechanism"] = security.mechanism
        options["sasl_plain_username"] = security.username
        options["sasl_plain_password"] = security.password.get_secret_value()
    return options


def faststream_security(security: KafkaSecurity) -> BaseSecurity | None:
    """The same security for a FastStream ``KafkaBroker(security=...)``."""
    security = security.checked()
    context = security.ssl_context()
    if security.uses_sasl:
        assert security.username is not None  # checked()
        assert security.password is not None
        scram = SASLScram512 if security.mechanism == "SCRAM-SHA-512" else SASLScram256
        return scram(
            username=security.username,
            password=security.password.get_secret_value(),
            ssl_context=context,
            use_ssl=security.uses_tls,
        )
    if security.uses_tls:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None
