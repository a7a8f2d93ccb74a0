"""Connection targets (TLS from the URL or the settings) and the grants table, without a
database."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.db import MigrationError, Target
from shared.migrate import scram_verifier
from shared.schemas import APPEND, GRANTS, SCHEMAS, unlisted_tables


def test_a_url_without_tls_parameters_is_passed_on_as_it_is() -> None:
    url = "postgresql://docket_audit:pw@db.internal:5432/docket?application_name=x"
    assert Target.of(url) == Target(url, None)


def test_verify_full_from_the_url_checks_the_ca_and_the_host_name(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_any_ca())
    target = Target.of(
        f"postgresql://u:p@db.internal/docket?sslmode=verify-full&sslrootcert={ca}&connect_timeout=5"
    )
    assert target.dsn == "postgresql://u:p@db.internal/docket?connect_timeout=5"
    assert isinstance(target.ssl, ssl.SSLContext)
    assert target.ssl.check_hostname is True
    assert target.ssl.verify_mode == ssl.CERT_REQUIRED


def test_settings_win_over_the_url() -> None:
    target = Target.of("postgresql://u:p@db/docket?sslmode=disable", "verify-ca")
    assert isinstance(target.ssl, ssl.SSLContext)
    assert target.ssl.check_hostname is False
    assert target.ssl.verify_mode == ssl.CERT_REQUIRED
    assert Target.of("postgresql://u:p@db/docket?sslmode=require", "prefer").ssl == "prefer"


def test_require_encrypts_without_verifying_unless_given_a_ca(tmp_path: Path) -> None:
    plain = Target.of("postgresql://u:p@db/docket?sslmode=require").ssl
    assert isinstance(plain, ssl.SSLContext)
    assert plain.verify_mode == ssl.CERT_NONE
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_any_ca())
    with_ca = Target.of("postgresql://u:p@db/docket", "require", ca).ssl
    assert isinstance(with_ca, ssl.SSLContext)
    assert with_ca.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:p@db/docket?sslmode=verify-fully", "sslmode must be one of"),
        (
            "postgresql://u:p@db/docket?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "TLS files cannot be used",
        ),
    ],
)
def test_bad_tls_settings_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Target.of(url)


def test_every_table_of_the_grants_is_in_a_managed_schema_and_nothing_deletes() -> None:
    for schemas in GRANTS.values():
        for schema, access in schemas.items():
            assert schema in SCHEMAS
            for privileges in [*access.tables.values(), *access.sequences.values()]:
                assert privileges <= {"SELECT", "INSERT", "UPDATE", "USAGE"}
    assert GRANTS["audit"]["audit"].tables["event_log"] == APPEND
    assert unlisted_tables("audit", {"event_log", "schema_migrations", "new_table"}) == [
        "new_table"
    ]


def test_passwords_become_scram_verifiers_and_must_be_ascii() -> None:
    verifier = scram_verifier("correct horse battery staple")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert "correct" not in verifier
    with pytest.raises(MigrationError, match="printable ASCII"):
        scram_verifier("pässwörd")


def _any_ca() -> bytes:

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)
