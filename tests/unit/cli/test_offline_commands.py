"""The commands that need no service: their --json is parseable, - reads stdin, and a
missing or malformed file ends in one line on stderr with exit 3."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.domain.merkle import MerkleLog, leaf_hash
from services.audit.domain.tree_head import sign_tree_head
from services.audit.export import head_line, header_line, leaf_line
from services.audit.signing_key import public_key_pem
from tests.unit.cli.support import REPO, assert_one_error_line, docket, docket_process

EXAMPLE = REPO / "examples" / "requests" / "01-customs-summons-anonymous-critic.json"
CASES = REPO / "tests" / "policy_cases" / "docket_cases.jsonl"
DOTGOV_SAMPLE = (
    "Domain name,Domain type,Organization name,Suborganization name,City,State,"
    "Security contact email\n"
    "CBP.GOV,Federal - Executive,Department of Homeland Security,"
    "U.S. Customs and Border Protection,Washington,DC,someone@example.org\n"
    "EXAMPLE.GOV,City,City of Example,,Example,CA,\n"
)


def test_classify_json_is_the_verdict_alone(capsys: pytest.CaptureFixture[str]) -> None:
    ran = docket(capsys, "classify", str(EXAMPLE), "--json")
    assert ran.code == 0, ran.err
    verdict = json.loads(ran.out)
    assert verdict["authority"]["code"] == "CUSTOMS_SUMMONS_1509"
    assert "AUTHORITY_SCOPE_MISMATCH" in [f["code"] for f in verdict["risk"]["factors"]]
    assert ran.err == ""


def test_classify_prints_the_verdict_on_stdout_and_why_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran = docket(capsys, "classify", str(EXAMPLE))
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == json.loads(docket(capsys, "classify", "--json", str(EXAMPLE)).out)
    assert ran.err.startswith("Authority: CUSTOMS_SUMMONS_1509")
    assert "Recommended action:" in ran.err


def test_classify_reads_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    from_file = docket(capsys, "classify", "--json", str(EXAMPLE))
    from_stdin = docket(capsys, "classify", "--json", "-", stdin=EXAMPLE.read_bytes())
    assert from_stdin.code == 0, from_stdin.err
    assert json.loads(from_stdin.out) == json.loads(from_file.out)


def test_classify_pipes_into_a_json_reader_as_a_process() -> None:
    ran = docket_process("classify", "-", stdin=EXAMPLE.read_bytes())
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["recommended_action"]
    assert "Recommended action:" in ran.err


def test_policy_test_json_lines_and_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    ran = docket(capsys, "policy", "test", "-", "--json", stdin=CASES.read_bytes())
    assert ran.code in (0, 1), ran.err
    lines = [json.loads(line) for line in ran.out.splitlines()]
    assert len(lines) == sum(1 for line in CASES.read_text().splitlines() if line.strip())
    assert all("actual" in line or "error" in line for line in lines)


def test_registry_refresh_json_and_stdin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "dotgov.csv"
    args = ["registry", "refresh", "-", "--snapshot", "2026-08-22", "--output", str(output)]
    ran = docket(capsys, *args, "--json", stdin=DOTGOV_SAMPLE.encode())
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {"output": str(output), "domains": 2, "snapshot": "2026-08-22"}
    written = output.read_text()
    assert "cbp.gov" in written
    assert "someone@example.org" not in written


def _export(tmp_path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    datas = [json.dumps({"n": i}).encode() for i in range(6)]
    tree = MerkleLog.from_leaf_hashes(leaf_hash(data) for data in datas)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    heads = [sign_tree_head(key, size, tree.root_at(size), at) for size in (3, 6)]
    export, key_file = tmp_path / "log.jsonl", tmp_path / "key.pem"
    lines = [header_line(), *map(head_line, heads)]
    lines += [leaf_line(i, data, leaf_hash(data)) for i, data in enumerate(datas)]
    export.write_text("".join(lines))
    key_file.write_text(public_key_pem(key.public_key()))
    return export, key_file


def test_audit_verify_json_and_stdin(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    export, key_file = _export(tmp_path)
    ran = docket(capsys, "audit", "verify", str(export), "--public-key", str(key_file), "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {
        "ok": True,
        "leaves": 6,
        "heads": 2,
        "problems": [],
        "first_bad_leaf": None,
        "bad_leaf_range": None,
    }
    piped = docket(
        capsys,
        *("audit", "verify", "-", "--public-key", str(key_file), "--json"),
        stdin=export.read_bytes(),
    )
    assert (piped.code, json.loads(piped.out)) == (0, json.loads(ran.out))
    records = [json.loads(line) for line in export.read_text().splitlines()]
    leaf = next(r for r in records if r["type"] == "leaf" and r["index"] == 4)
    leaf["leaf_data"] = base64.b64encode(b'{"n": 5}').decode()  # its stored hash kept
    tampered = "".join(json.dumps(r) + "\n" for r in records)
    failed = docket(
        capsys,
        *("audit", "verify", "-", "--public-key", str(key_file), "--json"),
        stdin=tampered.encode(),
    )
    assert failed.code == 1
    assert json.loads(failed.out)["ok"] is False


MISSING = "no-such-dir/missing.json"


@pytest.mark.parametrize(
    "args",
    [
        ("classify", MISSING),
        ("policy", "test", MISSING),
        ("registry", "refresh", MISSING, "--output", "unused.csv"),
        ("audit", "verify", MISSING, "--public-key", MISSING),
        ("submit", MISSING),
        ("classify", str(EXAMPLE), "--policy", MISSING),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_missing_file_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    ran = docket(capsys, *args)
    assert_one_error_line(ran, 3, "missing.json")
    assert ran.err.startswith(f"docket {args[0]}")


def test_a_missing_file_in_a_real_process_is_one_line_and_exit_3() -> None:
    ran = docket_process("classify", MISSING)
    assert_one_error_line(ran, 3, "docket classify: cannot read", "missing.json")


def test_a_file_that_is_not_json_or_not_a_submission_is_exit_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert_one_error_line(docket(capsys, "classify", str(garbage)), 3, "not JSON")
    ran = docket(capsys, "classify", "-", stdin=b'{"external_ref": 3}')
    assert_one_error_line(ran, 3, "request is not a valid submission")
