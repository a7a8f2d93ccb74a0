"""What the compose init writes for the secured ``apache/kafka`` broker."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

from cryptography import x509
from pydantic import SecretStr

from deploy.kafka.compose import USERS, password_variable, write


def test_the_broker_gets_tls_scram_users_and_acls_and_no_plaintext(tmp_path: Path) -> None:
    passwords = {user: SecretStr(f"pw-{index}") for index, user in enumerate(USERS)}
    write(tmp_path, passwords, "Xx3WQGMCTdm6VOpQcHAfWw")

    properties = dict(
        line.split("=", 1) for line in (tmp_path / "server.properties").read_text().splitlines()
    )
    assert properties["listener.security.protocol.map"] == "CLIENT:SASL_SSL,MTLS:SSL,CONTROLLER:SSL"
    assert "PLAINTEXT" not in properties["listeners"] + properties["advertised.listeners"]
    assert properties["advertised.listeners"].startswith("CLIENT://kafka:9092")
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["ssl.keystore.location"] == str(tmp_path / "tls" / "broker.pem")

    script = (tmp_path / "start.sh").read_text()
    (format_line,) = [line for line in script.splitlines() if "kafka-storage.sh format" in line]
    arguments = shlex.split(format_line)
    scram = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--add-scram"]
    assert sorted(scram) == sorted(
        f"SCRAM-SHA-512=[name={user},password={passwords[user].get_secret_value()}]"
        for user in USERS
    )
    assert "meta.properties" in script  # formatted once, kept on restarts

    certificate = x509.load_pem_x509_certificate((tmp_path / "tls" / "broker.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kafka", "localhost"]
    # Only the CA is for everyone; passwords and the broker's key are the broker's.
    for name in ("start.sh", "admin.properties", "tls/broker.pem", "tls/ca-key.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) & 0o077 == 0, name
    assert stat.S_IMODE((tmp_path / "tls" / "ca.pem").stat().st_mode) == 0o644


def test_password_variables_name_each_user() -> None:
    assert [password_variable(user) for user in USERS] == [
        "DOCKET_KAFKA_PASSWORD_ADMIN",
        "DOCKET_KAFKA_PASSWORD_INTAKE",
        "DOCKET_KAFKA_PASSWORD_CLASSIFIER",
        "DOCKET_KAFKA_PASSWORD_NOTIFIER",
        "DOCKET_KAFKA_PASSWORD_AUDIT",
    ]
