"""The secured broker of ``docker compose``: what the one-shot ``kafka-secrets`` service
writes into the ``kafka-secrets`` volume before the ``apache/kafka`` container starts.

The same layout as the local launcher (``security.py``): a CA made for this volume, the
broker's certificate (valid for ``kafka`` and ``localhost``), a SASL_SSL client listener
on 9092, an mTLS listener for brokers on 9094, the controller on 9093 (mutual TLS), the
SCRAM-SHA-512 users (passwords from ``DOCKET_KAFKA_PASSWORD_<USER>``, set in
``docker-compose.yml`` for development only) created when the storage is formatted.

Files (the broker's owned by the ``apache/kafka`` image's user, readable by nobody
else; the services mount the volume read-only and can read only ``tls/ca.pem``):
``server.properties``, ``start.sh`` (formats once, then runs the broker),
``admin.properties`` (the health check's client settings), ``tls/``.

    python -m deploy.kafka.compose /kafka-secrets
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from deploy.kafka.security import BrokerSecurity, BrokerTls, write_private
from shared.kafka_acl import ADMIN_USER, SERVICES, principal_of

#: The uid and gid the ``apache/kafka`` image runs the broker as.
KAFKA_UID: Final = 1000
HOST: Final = "kafka"
DATA_DIR: Final = "/var/lib/kafka/data"
USERS: Final = (ADMIN_USER, *(principal_of(service) for service in SERVICES))


def password_variable(user: str) -> str:
    """``docket-intake`` -> ``DOCKET_KAFKA_PASSWORD_INTAKE``."""
    return "DOCKET_KAFKA_PASSWORD_" + user.removeprefix("docket-").upper()


def broker_properties(security: BrokerSecurity, data_dir: str = DATA_DIR) -> str:
    """``server.properties`` of the single compose node (broker and controller)."""
    properties = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:9093",
        "listeners": "CLIENT://:9092,CONTROLLER://:9093,MTLS://:9094",
        "advertised.listeners": f"CLIENT://{HOST}:9092,MTLS://{HOST}:9094",
        "controller.listener.names": "CONTROLLER",
        **security.server_properties(),
        "log.dirs": data_dir,
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.retention.ms": "-1",
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def admin_client_properties(security: BrokerSecurity) -> str:
    """Java client settings of the admin (the container's health check)."""
    password = security.passwords[ADMIN_USER].get_secret_value()
    return (
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required"
        f' username="{ADMIN_USER}" password="{password}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={security.tls.ca_file}\n"
    )


def start_script(security: BrokerSecurity, cluster_id: str) -> str:
    """Format the storage once (with every SCRAM user), then run the broker."""
    properties = security.directory / "server.properties"
    format_command = shlex.join(
        [
            "/opt/kafka/bin/kafka-storage.sh", "format", "--standalone",
            "-t", cluster_id, "-c", str(properties), *security.scram_arguments(),
        ]
    )  # fmt: skip
    return (
        "#!/bin/bash\nset -euo pipefail\n"
        f"if [ ! -f {DATA_DIR}/meta.properties ]; then\n  {format_command}\nfi\n"
        f"exec /opt/kafka/bin/kafka-server-start.sh {shlex.quote(str(properties))}\n"
    )


def write(directory: Path, passwords: dict[str, SecretStr], cluster_id: str) -> None:
    """Everything the broker container needs, in ``directory`` (kept if present)."""
    BrokerTls(directory / "tls", hostnames=(HOST, "localhost")).ensure()
    security = BrokerSecurity(directory, passwords)
    files = {
        directory / "server.properties": broker_properties(security),
        directory / "admin.properties": admin_client_properties(security),
        directory / "start.sh": start_script(security, cluster_id),
    }
    for path, text in files.items():
        write_private(path, text.encode())
    (directory / "start.sh").chmod(0o700)
    (directory / "tls" / "ca.pem").chmod(0o644)
    (directory / "tls").chmod(0o755)
    directory.chmod(0o755)
    if os.geteuid() == 0:  # the compose init: the broker runs as the image's user
        for path in (*files, security.tls.keystore_file, security.tls.ca_key_file):
            os.chown(path, KAFKA_UID, KAFKA_UID)


def main(argv: list[str]) -> int:
    from deploy.kafka.launcher import new_cluster_id

    (directory,) = argv
    missing = [
        password_variable(user) for user in USERS if not os.environ.get(password_variable(user))
    ]
    if missing:
        print(f"kafka-secrets: set {', '.join(missing)}", file=sys.stderr)
        return 2
    passwords = {user: SecretStr(os.environ[password_variable(user)]) for user in USERS}
    write(Path(directory), passwords, new_cluster_id())
    print(f"kafka-secrets: broker settings and certificates in {directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
