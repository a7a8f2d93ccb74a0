"""The local broker's security: its TLS certificates, its SCRAM users and their ACLs.

A broker (or a three-node cluster) started by ``deploy/kafka/launcher.py`` keeps in its
data directory, created on first start and reused on restarts:

* ``tls/ca.pem`` and ``tls/ca-key.pem``: a self-signed CA made for this broker only;
* ``tls/broker.pem``: the brokers' key and certificate (CN ``docket-broker``, SAN
  ``127.0.0.1`` and ``localhost``, and the addresses of nodes in network namespaces of
  their own), signed by that CA;
* ``users.json``: a random password per SCRAM-SHA-512 user (one per service, and the
  ``docket-admin`` super-user), written into the cluster metadata when the storage is
  formatted (``kafka-storage format --add-scram``).

Listener layout (every one on 127.0.0.1, or the node's own address):

========== =========== ==============================================================
listener   protocol    who
========== =========== ==============================================================
CLIENT     SASL_SSL    services, tools, tests: SCRAM-SHA-512 user names are principals
MTLS       SSL         inter-broker traffic, and clients holding a certificate of the
                       CA: the certificate's CN is the principal (mutual TLS required)
CONTROLLER SSL         KRaft controllers and brokers only (mutual TLS required)
========== =========== ==============================================================

No listener is unauthenticated: a process on the same machine that reaches a port
still has to hold a password or a certificate signed by the broker's CA. The ACLs come
from ``shared/kafka_acl.py``; ``docket-admin`` and ``docket-broker`` are super-users and
anything without an ACL is refused (``allow.everyone.if.no.acl.found=false``).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DescribeAclsRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import SecretStr

from deploy.tls import certificate_authority, subject_of
from shared.kafka_acl import ADMIN_USER, BROKER_USER, SERVICES, AclRule, all_acl_rules, principal_of
from shared.kafka_security import KafkaSecurity, client_options
from shared.settings import CommonSettings

SCRAM_MECHANISM: Final = "SCRAM-SHA-512"
CERTIFICATE_DAYS: Final = 825
#: Kafka's wire codes (org.apache.kafka.common.acl / resource).
_RESOURCE_TYPE: Final = {"topic": 2, "group": 3}
_PATTERN_TYPE: Final = {"literal": 3, "prefix": 4}
_OPERATION: Final = {"Read": 3, "Write": 4, "Describe": 8}
_ALLOW: Final = 3
#: A DescribeAcls filter matching any resource type, pattern, operation or permission.
_ANY: Final = 1


class AclError(RuntimeError):
    """The broker refused to create an ACL."""


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class BrokerTls:
    """The CA and certificates in one ``tls/`` folder."""

    directory: Path
    #: Host names the brokers' certificate is valid for (besides 127.0.0.1).
    hostnames: tuple[str, ...] = ("localhost",)
    #: IP addresses it is valid for besides 127.0.0.1 (nodes in namespaces of their own).
    addresses: tuple[str, ...] = ()

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def keystore_file(self) -> Path:
        """The brokers' private key followed by their certificate (Kafka's PEM keystore)."""
        return self.directory / "broker.pem"

    def ensure(self) -> None:
        """Create the CA and the brokers' certificate unless both exist."""
        if self.ca_file.is_file() and self.keystore_file.is_file():
            return
        ca_key, ca = certificate_authority("Docket local Kafka CA", CERTIFICATE_DAYS)
        write_private(self.ca_key_file, _key_pem(ca_key))
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        key, certificate = self._issue(
            BROKER_USER, ca, ca_key, server=self.hostnames, addresses=self.addresses
        )
        write_private(self.keystore_file, key + certificate)

    def issue_client_certificate(self, common_name: str, directory: Path) -> tuple[Path, Path]:
        """A client certificate (mTLS) for principal ``common_name``: ``(cert, key)``."""
        ca = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        ca_key = serialization.load_pem_private_key(self.ca_key_file.read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key, certificate = self._issue(common_name, ca, ca_key, server=())
        cert_file, key_file = directory / f"{common_name}.pem", directory / f"{common_name}-key.pem"
        write_private(key_file, key)
        cert_file.write_bytes(certificate)
        return cert_file, key_file

    @staticmethod
    def _issue(
        common_name: str,
        ca: x509.Certificate,
        ca_key: ec.EllipticCurvePrivateKey,
        *,
        server: tuple[str, ...],
        addresses: tuple[str, ...] = (),
    ) -> tuple[bytes, bytes]:
        """A key and certificate for ``common_name``; a server's (valid for the host
        names ``server`` and 127.0.0.1) when ``server`` names any."""
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:  # a broker is also a client of the other brokers and the controllers
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject_of(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        *(x509.DNSName(name) for name in server),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses),
                    ]
                ),
                critical=False,
            )
        certificate = builder.sign(ca_key, hashes.SHA256())
        return _key_pem(key), certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class BrokerSecurity:
    """A broker's (or cluster's) TLS material and SCRAM users, kept in ``directory``."""

    directory: Path
    passwords: Mapping[str, SecretStr] = field(default_factory=dict)

    @property
    def tls(self) -> BrokerTls:
        return BrokerTls(self.directory / "tls")

    @property
    def users_file(self) -> Path:
        return self.directory / "users.json"

    @classmethod
    def prepare(cls, directory: Path, *, addresses: tuple[str, ...] = ()) -> BrokerSecurity:
        """Load the certificates and users of ``directory``, creating what is missing
        (a new brokers' certificate is also valid for the IP ``addresses``)."""
        directory = directory.resolve()
        BrokerTls(directory / "tls", addresses=addresses).ensure()
        users_file = directory / "users.json"
        wanted = (ADMIN_USER, *(principal_of(service) for service in SERVICES))
        stored: dict[str, str] = json.loads(users_file.read_text()) if users_file.is_file() else {}
        if any(user not in stored for user in wanted):
            stored = {user: stored.get(user) or secrets.token_hex(24) for user in wanted}
            write_private(users_file, json.dumps(stored, indent=2).encode())
        return cls(directory, {user: SecretStr(password) for user, password in stored.items()})

    def scram_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments creating every user."""
        arguments: list[str] = []
        for user, password in sorted(self.passwords.items()):
            secret = password.get_secret_value()
            arguments += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={secret}]"]
        return arguments

    def server_properties(self) -> dict[str, str]:
        """The security part of ``server.properties`` (listeners are set by the caller)."""
        tls = self.tls
        return {
            "listener.security.protocol.map": "CLIENT:SASL_SSL,MTLS:SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "MTLS",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "listener.name.client.sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "listener.name.client.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(tls.keystore_file),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca_file),
            "ssl.endpoint.identification.algorithm": "https",
            "listener.name.mtls.ssl.client.auth": "required",
            "listener.name.controller.ssl.client.auth": "required",
            # CN=docket-notifier -> User:docket-notifier: the same principal as its SCRAM user.
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN_USER};User:{BROKER_USER}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def access(self, bootstrap_servers: str) -> KafkaAccess:
        return KafkaAccess(bootstrap_servers, self.tls.ca_file, self.passwords)


@dataclass(frozen=True)
class KafkaAccess:
    """Where Kafka is and how each Docket principal connects to it.

    ``ca_file`` None: an external cluster (``KAFKA_BOOTSTRAP_SERVERS``) whose security
    settings come from the environment (``DOCKET_KAFKA_*``), the same for every user.
    """

    bootstrap_servers: str
    ca_file: Path | None = None
    passwords: Mapping[str, SecretStr] = field(default_factory=dict)

    @property
    def external(self) -> bool:
        return self.ca_file is None

    def with_servers(self, bootstrap_servers: str) -> KafkaAccess:
        return KafkaAccess(bootstrap_servers, self.ca_file, self.passwords)

    def security(self, user: str = ADMIN_USER) -> KafkaSecurity:
        """How ``user`` connects (an external cluster: as the environment says)."""
        if self.ca_file is None:
            return KafkaSecurity.from_settings(CommonSettings())
        return KafkaSecurity(
            protocol="SASL_SSL",
            mechanism=SCRAM_MECHANISM,
            username=user,
            password=self.passwords[user],
            cafile=self.ca_file,
        )

    def client_options(self, user: str = ADMIN_USER) -> dict[str, Any]:
        """``bootstrap_servers`` and security keyword arguments of a raw aiokafka client."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            **client_options(self.security(user)),
        }

    def service_settings(self, service: str) -> dict[str, Any]:
        """Settings keyword arguments that make ``service`` connect as its own principal."""
        if self.ca_file is None:
            return {"kafka_bootstrap_servers": self.bootstrap_servers}
        return {
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": SCRAM_MECHANISM,
            "kafka_username": principal_of(service),
            "kafka_password": self.passwords[principal_of(service)],
            "kafka_ssl_cafile": self.ca_file,
        }

    def service_env(self, service: str) -> dict[str, str]:
        """The same as environment variables, for a service run as a process."""
        names = {"kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS"}
        env: dict[str, str] = {}
        for name, value in self.service_settings(service).items():
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            env[names.get(name, f"DOCKET_{name.upper()}")] = text
        return env


def _wire(rule: AclRule) -> tuple[int, str, int, str, int]:
    return (
        _RESOURCE_TYPE[rule.resource_type],
        rule.name,
        _PATTERN_TYPE[rule.pattern],
        f"User:{rule.principal}",
        _OPERATION[rule.operation],
    )


async def create_acls(
    access: KafkaAccess, rules: list[AclRule] | None = None, *, visible_within: float = 30.0
) -> int:
    """Create the ALLOW rules (default: every service's, from ``shared/kafka_acl.py``) as
    the admin, and wait until every broker enforces them; rules that exist already are
    kept. Returns how many rules there are."""
    wanted = all_acl_rules() if rules is None else rules
    client = AIOKafkaClient(**access.client_options(ADMIN_USER))
    await client.bootstrap()
    try:
        node = client.get_random_node()
        for rule in wanted:
            resource_type, name, pattern, principal, operation = _wire(rule)
            request = CreateAclsRequest(
                resource_type, name, pattern, principal, "*", operation, _ALLOW
            )
            response = await client.send(node, request)
            for code, message in response.creation_responses:
                if code != 0:
                    raise AclError(f"cannot create ACL {rule}: {for_code(code).__name__} {message}")
        expected = {_wire(rule) for rule in wanted}
        async with asyncio.timeout(visible_within):
            for broker in client.cluster.brokers():
                while not expected <= await _enforced(client, broker.nodeId):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
    finally:
        await client.close()
    return len(wanted)


async def _enforced(client: AIOKafkaClient, node_id: int) -> set[tuple[int, str, int, str, int]]:
    """The ALLOW rules broker ``node_id`` knows (its authorizer's view of the metadata)."""
    request = DescribeAclsRequest(_ANY, None, _ANY, None, None, _ANY, _ANY)
    response = await client.send(node_id, request)
    if response.error_code != 0:
        raise AclError(f"cannot list ACLs: {for_code(response.error_code).__name__}")
    return {
        (resource_type, name, pattern, principal, operation)
        for resource_type, name, pattern, acls in response.resources
        for principal, _host, operation, permission in acls
        if permission == _ALLOW
    }
