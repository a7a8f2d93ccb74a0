"""The commands that talk to PostgreSQL, when it is not there or not configured: one line
on stderr, exit 4 (refused, on a real closed port) or 6 (no URL), and never the
password of the URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.signing_key import public_key_pem
from tests.unit.cli.support import assert_one_error_line, docket, docket_process
from tests.unit.cli.test_http_commands import closed_port

PASSWORD = "pw-that-must-not-leak-7f3a"
DATABASE_COMMANDS = [
    ("keys", "list"),
    ("keys", "revoke", "k_0123"),
    ("audit", "export", "-"),
    ("audit", "verify"),  # the database form
    ("audit", "rebuild"),
    ("report", "--from", "2026-01-01", "--to", "2026-02-01"),
]
URL_ENVIRONMENT = ("DOCKET_DATABASE_URL", "DOCKET_MIGRATION_DATABASE_URL")


@pytest.fixture
def no_database_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in URL_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_a_refused_database_is_one_line_and_exit_4(
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    no_database_settings: None,
    tmp_path: Path,
) -> None:
    url = f"postgresql://docket_owner:{PASSWORD}@127.0.0.1:{closed_port()}/docket"
    extra: list[str] = []
    if args[:2] == ("audit", "verify"):
        key_file = tmp_path / "key.pem"
        key_file.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
        extra = ["--public-key", str(key_file)]
    ran = docket(capsys, *args, *extra, "--database-url", url)
    assert_one_error_line(ran, 4, "cannot reach")
    assert PASSWORD not in ran.err


def test_migrate_against_a_refused_database_in_a_real_process() -> None:
    url = f"postgresql://docket_owner:{PASSWORD}@127.0.0.1:{closed_port()}/docket"
    for args in (("migrate",), ("migrate", "--status")):
        ran = docket_process(*args, env={"DOCKET_MIGRATION_DATABASE_URL": url})
        assert_one_error_line(ran, 4, "docket migrate: cannot reach the database")
        assert PASSWORD not in ran.err


@pytest.mark.parametrize(
    "args",
    [("migrate",), ("migrate", "--status"), ("keys", "list"), ("audit", "export", "-")],
    ids=" ".join,
)
def test_no_database_url_is_one_line_and_exit_6(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], no_database_settings: None
) -> None:
    assert_one_error_line(docket(capsys, *args), 6, "DOCKET_")


@pytest.mark.parametrize(
    ("args", "variable", "value"),
    [
        (("audit", "export", "-"), "DOCKET_NATIONAL_SECURITY_BAND", "a-quarter-thousand"),
        (("migrate",), "DOCKET_DATABASE_ROLE_PREFIX", "Robert'); DROP"),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else None,
)
def test_an_invalid_setting_names_the_variable_not_its_value(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("DOCKET_MIGRATION_DATABASE_URL", "postgresql://owner@127.0.0.1:1/docket")
    ran = docket(capsys, *args)
    assert_one_error_line(ran, 6, f"invalid configuration: {variable}: ")
    assert value not in ran.err
