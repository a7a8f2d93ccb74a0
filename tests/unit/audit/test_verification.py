"""The offline verifier: a log that matches its signed heads passes; any altered byte,
missing or reordered leaf, forged head or truncated log fails and is located."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.domain.merkle import MerkleLog, leaf_hash
from services.audit.domain.tree_head import SignedTreeHead, sign_tree_head
from services.audit.domain.verification import Leaf, verify_log
from services.audit.export import head_line, header_line, leaf_line
from services.audit.signing_key import public_key_pem
from shared.cli import main

KEY = Ed25519PrivateKey.generate()
AT = datetime(2026, 3, 1, tzinfo=UTC)


def _log(count: int, head_sizes: tuple[int, ...]) -> tuple[list[Leaf], list[SignedTreeHead]]:
    leaves = [
        Leaf(i, json.dumps({"n": i}).encode(), leaf_hash(json.dumps({"n": i}).encode()))
        for i in range(count)
    ]
    tree = MerkleLog.from_leaf_hashes(leaf.stored_hash for leaf in leaves)
    heads = [sign_tree_head(KEY, size, tree.root_at(size), AT) for size in head_sizes]
    return leaves, heads


def test_an_untouched_log_verifies() -> None:
    leaves, heads = _log(10, (0, 3, 4, 10))
    report = verify_log(leaves, heads, KEY.public_key())
    assert report.ok, report.problems
    assert (report.leaves, report.heads) == (10, 4)


def test_one_altered_byte_names_the_leaf() -> None:
    leaves, heads = _log(10, (5, 10))
    leaves[6] = replace(leaves[6], data=leaves[6].data.replace(b"6", b"7"))
    report = verify_log(leaves, heads, KEY.public_key())
    assert not report.ok
    assert report.first_bad_leaf == 6
    assert any("tree head 10" in problem for problem in report.problems)
    assert not any("tree head 5:" in problem for problem in report.problems)


def test_data_and_hash_rewritten_together_break_the_root_and_bound_the_leaf() -> None:
    leaves, heads = _log(10, (4, 8, 10))
    data = b'{"n":"forged"}'
    leaves[5] = Leaf(5, data, leaf_hash(data))
    report = verify_log(leaves, heads, KEY.public_key())
    assert report.first_bad_leaf is None
    assert report.bad_leaf_range == (4, 8)


def test_a_missing_leaf_is_named() -> None:
    leaves, heads = _log(6, (6,))
    del leaves[2]
    report = verify_log(leaves, heads, KEY.public_key())
    assert report.first_bad_leaf == 2
    assert any("signed for 6 leaves but the log has 5" in p for p in report.problems)


def test_a_truncated_log_fails() -> None:
    leaves, heads = _log(6, (6,))
    report = verify_log(leaves[:4], heads, KEY.public_key())
    assert not report.ok
    assert report.first_bad_leaf is None


def test_a_head_signed_by_another_key_fails() -> None:
    leaves, _heads = _log(4, (4,))
    tree = MerkleLog.from_leaf_hashes(leaf.stored_hash for leaf in leaves)
    other = sign_tree_head(Ed25519PrivateKey.generate(), 4, tree.root, AT)
    report = verify_log(leaves, [other], KEY.public_key())
    assert report.problems == ["tree head 4: signature does not verify with the key"]


def test_two_heads_for_one_size_with_different_roots_are_inconsistent() -> None:
    leaves, heads = _log(4, (4,))
    forged = sign_tree_head(KEY, 4, bytes(32), AT)
    report = verify_log(leaves, [*heads, forged], KEY.public_key())
    assert any("not consistent" in problem for problem in report.problems)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.integers(min_value=0, max_value=n - 1),
            st.lists(st.integers(min_value=1, max_value=n), max_size=4),
        )
    )
)
def test_any_single_altered_leaf_is_found(case: tuple[int, int, list[int]]) -> None:
    count, victim, sizes = case
    leaves, heads = _log(count, (*sizes, count))
    leaves[victim] = replace(leaves[victim], data=leaves[victim].data + b" ")
    report = verify_log(leaves, heads, KEY.public_key())
    assert report.first_bad_leaf == victim


def _export(path: Path, leaves: list[Leaf], heads: list[SignedTreeHead]) -> None:
    lines = [header_line(), *map(head_line, heads)]
    lines += [leaf_line(leaf.index, leaf.data, leaf.stored_hash) for leaf in leaves]
    path.write_text("".join(lines))


def test_cli_verifies_an_export_and_names_the_tampered_leaf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaves, heads = _log(20, (7, 20))
    export, key_file = tmp_path / "log.jsonl", tmp_path / "key.pem"
    key_file.write_text(public_key_pem(KEY.public_key()))
    _export(export, leaves, heads)
    assert main(["audit", "verify", str(export), "--public-key", str(key_file)]) == 0

    leaves[11] = replace(leaves[11], data=leaves[11].data.replace(b"11", b"12"))
    _export(export, leaves, heads)
    assert main(["audit", "verify", str(export), "--public-key", str(key_file)]) == 1
    assert "first bad leaf: 11" in capsys.readouterr().out


def test_cli_refuses_a_malformed_export(tmp_path: Path) -> None:
    export, key_file = tmp_path / "log.jsonl", tmp_path / "key.pem"
    key_file.write_text(public_key_pem(KEY.public_key()))
    export.write_text('{"type": "leaf"}\n')
    assert main(["audit", "verify", str(export), "--public-key", str(key_file)]) == 3


def test_leaf_at_returns_one_stored_leaf_hash() -> None:
    leaves, _heads = _log(5, ())
    tree = MerkleLog.from_leaf_hashes(leaf.stored_hash for leaf in leaves)
    assert tree.leaf_at(3) == leaves[3].stored_hash
    with pytest.raises(ValueError, match="not in"):
        tree.leaf_at(5)
