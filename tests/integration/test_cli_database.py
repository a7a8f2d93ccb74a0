"""``docket`` commands on a real PostgreSQL: ``--json`` of every command that reads or
writes the database is parseable and says what happened (``docket migrate [--status]``,
``docket keys``, ``docket audit export|verify|rebuild``, ``docket report``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.signing_key import public_key_pem
from shared.cli import main
from shared.schemas import SCHEMAS
from tests.fixtures.postgres import ROLE_PASSWORDS, DocketDatabase
from tests.unit.cli.support import Ran

pytestmark = pytest.mark.integration


async def _docket(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


async def test_migrate_status_and_migrate_as_json(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKET_DATABASE_URL", raising=False)
    monkeypatch.setenv("DOCKET_MIGRATION_DATABASE_URL", database_url)
    for service, password in ROLE_PASSWORDS.items():
        monkeypatch.setenv(f"DOCKET_{service.upper()}_DATABASE_PASSWORD", password)
    before = await _docket(capsys, "migrate", "--status", "--json")
    assert before.code == 1, before.err
    status = json.loads(before.out)
    assert set(status) == set(SCHEMAS)
    assert all(s["version"] == 0 and s["pending"] for s in status.values())
    done = await _docket(capsys, "migrate", "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["applied"]["audit"] == status["audit"]["pending"]
    assert sorted(report["passwords_set"]) == sorted(f"docket_{s}" for s in ROLE_PASSWORDS)
    for password in ROLE_PASSWORDS.values():
        assert password not in done.out + done.err
    after = await _docket(capsys, "migrate", "--status", "--json")
    assert after.code == 0
    assert all(not s["pending"] and s["version"] > 0 for s in json.loads(after.out).values())


async def test_keys_as_json(
    capsys: pytest.CaptureFixture[str], docket_database: DocketDatabase
) -> None:
    owner = ["--database-url", docket_database.owner_url]
    created = await _docket(
        capsys, "keys", "create", "cli-json", "--role", "reader", *owner, "--json"
    )
    assert created.code == 0, created.err
    key = json.loads(created.out)
    assert (key["client_id"], key["role"], key["national_security"]) == (
        "cli-json",
        "reader",
        False,
    )
    assert len(key["secret"]) >= 32
    listed = json.loads((await _docket(capsys, "keys", "list", *owner, "--json")).out)
    [entry] = [k for k in listed if k["key_id"] == key["key_id"]]
    assert entry["revoked_at"] is None
    assert key["secret"] not in json.dumps(listed)
    rotated = await _docket(capsys, "keys", "rotate", key["key_id"], *owner, "--json")
    assert rotated.code == 0, rotated.err
    replacement = json.loads(rotated.out)
    assert replacement["revoked"] == key["key_id"]
    revoked = await _docket(capsys, "keys", "revoke", replacement["key_id"], *owner, "--json")
    assert json.loads(revoked.out) == {"revoked": replacement["key_id"]}
    again = await _docket(capsys, "keys", "revoke", replacement["key_id"], *owner)
    assert again.code == 1
    assert again.err == f"docket keys revoke: no active key {replacement['key_id']}\n"


async def test_audit_and_report_as_json(
    capsys: pytest.CaptureFixture[str], docket_database: DocketDatabase, tmp_path: Path
) -> None:
    audit = ["--database-url", docket_database.url("audit")]
    export = tmp_path / "log.jsonl"
    exported = await _docket(capsys, "audit", "export", str(export), *audit, "--json")
    assert exported.code == 0, exported.err
    assert json.loads(exported.out) == {"leaves": 0, "file": str(export)}
    to_stdout = await _docket(capsys, "audit", "export", "-", *audit)
    assert to_stdout.code == 0
    assert [json.loads(line)["type"] for line in to_stdout.out.splitlines()] == ["header"]
    assert to_stdout.out == export.read_text()
    assert to_stdout.err == "exported 0 leaves to stdout\n"
    owner = ["--database-url", docket_database.owner_url]
    rebuilt = await _docket(capsys, "audit", "rebuild", *owner, "--json")
    assert (rebuilt.code, json.loads(rebuilt.out)) == (0, {"rebuilt_views": 0})
    period = ["--from", "2026-01-01", "--to", "2026-07-01"]
    report = await _docket(capsys, "report", *period, *audit, "--json")
    assert report.code == 0, report.err
    assert json.loads(report.out)["period_from"].startswith("2026-01-01")
    key_file = tmp_path / "key.pem"
    key_file.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    verified = await _docket(
        capsys, "audit", "verify", *audit, "--public-key", str(key_file), "--json"
    )
    assert verified.code == 0, verified.err
    assert json.loads(verified.out)["ok"] is True
    clash = await _docket(capsys, "report", *period, *audit, "--json", "--format", "csv")
    assert clash.code == 2
