"""A malformed or inconsistent policy is refused with `file:line: reason`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from services.classifier.domain import DEFAULT_POLICY_DIR, PolicyError, load_policy
from services.classifier.domain.policy import policy_version


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(DEFAULT_POLICY_DIR, target)
    return target


def _edit(directory: Path, name: str, old: str, new: str) -> int:
    """Replace the first ``old`` in a policy file; return the 1-based line it was on."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def _refused(directory: Path, name: str, line: int, reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(directory)
    message = str(caught.value)
    assert message.startswith(f"{name}:{line}: "), message
    assert re.search(reason, message), message


def test_yaml_syntax_error(policy_dir: Path) -> None:
    line = _edit(policy_dir, "decisions.yaml", "levels:\n", "levels: [unclosed\n")
    _refused(policy_dir, "decisions.yaml", line + 1, "not valid YAML")


def test_unknown_authority_code_in_a_condition(policy_dir: Path) -> None:
    line = _edit(policy_dir, "risk_factors.yaml", "authority: [NSL_2709]", "authority: [NSL_2790]")
    _refused(policy_dir, "risk_factors.yaml", line, "unknown authority code 'NSL_2790'")


def test_unknown_condition(policy_dir: Path) -> None:
    line = _edit(
        policy_dir,
        "risk_factors.yaml",
        "when: {target_not_found: true}",
        "when: {target_missing: true}",
    )
    _refused(policy_dir, "risk_factors.yaml", line, "unknown condition 'target_missing'")


def test_missing_field(policy_dir: Path) -> None:
    line = _edit(
        policy_dir,
        "authorities.yaml",
        "    secrecy: statutory\n    tags: [counsel_always]\n",
        "    tags: [counsel_always]\n",
    )
    with pytest.raises(
        PolicyError, match=r"^authorities\.yaml:\d+: missing required field 'secrecy'"
    ):
        load_policy(policy_dir)
    assert line > 1


def test_duplicate_code(policy_dir: Path) -> None:
    line = _edit(
        policy_dir, "risk_factors.yaml", "  - code: NO_LEGAL_PROCESS", "  - code: NATSEC_SECRECY"
    )
    _refused(policy_dir, "risk_factors.yaml", line, "duplicate risk factor code 'NATSEC_SECRECY'")


def test_unknown_data_category(policy_dir: Path) -> None:
    line = _edit(
        policy_dir,
        "authorities.yaml",
        "can_compel: [subscriber_identity]",
        "can_compel: [subscriber_idnetity]",
    )
    _refused(policy_dir, "authorities.yaml", line, "unknown DataCategory 'subscriber_idnetity'")


def test_factor_refers_to_a_later_factor(policy_dir: Path) -> None:
    line = _edit(
        policy_dir,
        "risk_factors.yaml",
        "- factor: REQUESTER_IDENTITY_UNVERIFIED",
        "- factor: NDO_PRESENT",
    )
    _refused(policy_dir, "risk_factors.yaml", line, "defined earlier")


def test_bad_regular_expression(policy_dir: Path) -> None:
    line = _edit(
        policy_dir,
        "risk_factors.yaml",
        'phrases: ["religious affiliation"',
        'patterns: ["(unclosed"]\n            phrases: ["religious affiliation"',
    )
    _refused(policy_dir, "risk_factors.yaml", line, "not a valid regular expression")


def test_unknown_field_is_not_ignored(policy_dir: Path) -> None:
    line = _edit(
        policy_dir, "authorities.yaml", "in_force_from: 2026-08-18", "in_force_form: 2026-08-18"
    )
    _refused(policy_dir, "authorities.yaml", line, "unknown field 'in_force_form'")


def test_unknown_evidence_placeholder(policy_dir: Path) -> None:
    line = _edit(
        policy_dir, "risk_factors.yaml", 'evidence: "withdrawn: {evidence}"', 'evidence: "{email}"'
    )
    _refused(policy_dir, "risk_factors.yaml", line, "unknown evidence placeholder")


def test_thresholds_must_rise(policy_dir: Path) -> None:
    line = _edit(policy_dir, "decisions.yaml", "  high: 40", "  high: 10")
    _refused(policy_dir, "decisions.yaml", line, "must be above the level below")


def test_missing_file(policy_dir: Path) -> None:
    (policy_dir / "decisions.yaml").unlink()
    _refused(policy_dir, "decisions.yaml", 1, "policy file missing")


def test_policy_version_is_a_short_hash_of_the_content(policy_dir: Path) -> None:
    before = policy_version(policy_dir)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", before)
    assert load_policy(policy_dir).version == before
    _edit(policy_dir, "decisions.yaml", "  high: 40", "  high: 41")
    assert policy_version(policy_dir) != before
