"""The transparency-dev/merkle proof vectors (RFC 6962/9162), read in place.

Each JSON file is one verification case: ``wantErr: false`` must verify, ``wantErr:
true`` must be rejected (``False`` or ``MalformedProofError``). Hashes are base64;
``proof`` may be ``null`` (no proof); some cases carry hashes of the wrong length and
indexes that wrapped around as uint64 (``0 - 1 == 2**64 - 1``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from services.audit.domain.merkle import (
    MalformedProofError,
    MerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = REPO_ROOT.parent / "shared" / "testdata" / "merkle"
INCLUSION = sorted(VECTORS.glob("inclusion/**/*.json"))
CONSISTENCY = sorted(VECTORS.glob("consistency/**/*.json"))
#: The unmodified proofs for the RFC 6962 test tree, in the numbered folders.
HAPPY_INCLUSION = [p for p in INCLUSION if p.parent.name.isdigit() and p.stem == "happy-path"]
HAPPY_CONSISTENCY = [p for p in CONSISTENCY if p.parent.name.isdigit() and p.stem == "happy-path"]

#: The leaves of RFC 6962's test tree, which the happy-path vectors are built from.
RFC6962_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def _name(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text())
    return vector


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in vector["proof"] or []]


def _inclusion_verdict(vector: dict[str, Any]) -> bool:
    try:
        return verify_inclusion(
            vector["leafIdx"],
            vector["treeSize"],
            _b64(vector["leafHash"]),
            _proof(vector),
            _b64(vector["root"]),
        )
    except MalformedProofError:
        return False


def _consistency_verdict(vector: dict[str, Any]) -> bool:
    try:
        return verify_consistency(
            vector["size1"],
            vector["size2"],
            _b64(vector["root1"]),
            _b64(vector["root2"]),
            _proof(vector),
        )
    except MalformedProofError:
        return False


def test_the_vector_set_is_complete() -> None:
    assert (VECTORS / "SOURCE.md").is_file()
    for vectors in (INCLUSION, CONSISTENCY):
        assert len(vectors) == 98
        wanted = [_load(path)["wantErr"] for path in vectors]
        assert wanted.count(False) >= 5
        assert wanted.count(True) >= 80
    assert len(HAPPY_INCLUSION) == len(HAPPY_CONSISTENCY) == 5


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_inclusion_vector(path: Path) -> None:
    vector = _load(path)
    assert set(vector) == {"leafIdx", "treeSize", "root", "leafHash", "proof", "desc", "wantErr"}
    assert _inclusion_verdict(vector) is not vector["wantErr"]


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_consistency_vector(path: Path) -> None:
    vector = _load(path)
    assert set(vector) == {"size1", "size2", "root1", "root2", "proof", "desc", "wantErr"}
    assert _consistency_verdict(vector) is not vector["wantErr"]


@pytest.mark.parametrize("path", HAPPY_INCLUSION, ids=_name)
def test_generated_inclusion_proof_equals_the_vector(path: Path) -> None:
    vector = _load(path)
    log = MerkleLog.from_leaf_hashes(leaf_hash(d) for d in RFC6962_LEAVES)
    index, size = vector["leafIdx"], vector["treeSize"]
    assert log.level(0)[index] == _b64(vector["leafHash"])
    assert log.root_at(size) == _b64(vector["root"])
    assert log.inclusion_proof(index, size) == _proof(vector)


@pytest.mark.parametrize("path", HAPPY_CONSISTENCY, ids=_name)
def test_generated_consistency_proof_equals_the_vector(path: Path) -> None:
    vector = _load(path)
    log = MerkleLog.from_leaf_hashes(leaf_hash(d) for d in RFC6962_LEAVES)
    first, second = vector["size1"], vector["size2"]
    assert log.root_at(first) == _b64(vector["root1"])
    assert log.root_at(second) == _b64(vector["root2"])
    assert log.consistency_proof(first, second) == _proof(vector)
