"""MerkleLog against a naive RFC 9162 reference, tamper detection, and signed tree heads.

The reference below is the recursive definition of RFC 9162 section 2.1 written out
directly (O(n) per call) with hashlib, independent of the code under test.
"""

from __future__ import annotations

import base64
import contextlib
import os
import stat
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_public_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.audit.domain.canonical import canonical_json
from services.audit.domain.merkle import (
    EMPTY_ROOT,
    MalformedProofError,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from services.audit.domain.tree_head import (
    MAX_SIGNED_TREE_SIZE,
    SignedTreeHead,
    key_id,
    sign_tree_head,
    tree_head_message,
    verify_tree_head,
)
from services.audit.signing_key import (
    SigningKeyError,
    load_or_create_signing_key,
    public_key_base64,
    public_key_pem,
)

SIZES = [1, 2, 3, 96, 871, 1000, 1024]


# --- reference: RFC 9162 section 2.1, verbatim -------------------------------------------


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not d:
        return sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n])."""
    return ref_subproof(m, d, True)


# --- helpers ------------------------------------------------------------------------------


def leaf_data(count: int) -> list[bytes]:
    return [canonical_json({"seq": i, "event": "request.received"}) for i in range(count)]


def sample(n: int) -> list[int]:
    """All of 0..n-1 for small n, else edges, powers of two and a stride through."""
    if n <= 128:
        return list(range(n))
    picks = {0, 1, n // 2, n - 2, n - 1}
    picks.update(p for bit in range(n.bit_length()) for p in (2**bit - 1, 2**bit) if p < n)
    picks.update(range(0, n, max(1, n // 40)))
    return sorted(picks)


def flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(changed)


def assert_rejected_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    with contextlib.suppress(MalformedProofError):
        assert verify_inclusion(index, size, leaf, proof, root) is False


def assert_rejected_consistency(
    first: int, second: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    with contextlib.suppress(MalformedProofError):
        assert verify_consistency(first, second, root1, root2, proof) is False


# --- the tree at the awkward sizes --------------------------------------------------------


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"n={n}")
def tree(request: pytest.FixtureRequest) -> tuple[list[bytes], MerkleLog]:
    leaves = [ref_leaf(d) for d in leaf_data(request.param)]
    return leaves, MerkleLog.from_leaf_hashes(leaves)


def test_roots_equal_the_reference(tree: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = tree
    n = len(leaves)
    assert log.size == len(log) == n
    assert log.root == ref_mth(leaves)
    assert log.root_at(0) == EMPTY_ROOT == sha256(b"").digest()
    for m in sample(n + 1)[1:]:
        assert log.root_at(m) == ref_mth(leaves[:m]), m


def test_levels_hold_perfect_subtrees(tree: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = tree
    n = len(leaves)
    assert log.num_levels == n.bit_length()
    for height in range(log.num_levels):
        level = log.level(height)
        width = 2**height
        assert len(level) == n // width
        for i in sample(len(level)):
            assert level[i] == ref_mth(leaves[i * width : (i + 1) * width])
        assert log.level(height, start=len(level) // 2) == level[len(level) // 2 :]
    with pytest.raises(ValueError, match="no level"):
        log.level(log.num_levels)


def test_appending_one_by_one_equals_rebuilding(tree: tuple[list[bytes], MerkleLog]) -> None:
    leaves, rebuilt = tree
    log = MerkleLog()
    for i, leaf in enumerate(leaves):
        assert log.append(leaf) == i
    assert [log.level(h) for h in range(log.num_levels)] == [
        rebuilt.level(h) for h in range(rebuilt.num_levels)
    ]


def test_inclusion_proofs_match_the_reference_and_verify(
    tree: tuple[list[bytes], MerkleLog],
) -> None:
    leaves, log = tree
    n = len(leaves)
    root = log.root
    for i in sample(n):
        proof = log.inclusion_proof(i, n)
        assert proof == ref_path(i, leaves), i
        assert verify_inclusion(i, n, leaves[i], proof, root) is True
    for m in sample(n + 1)[1:]:  # proofs against earlier tree heads
        i = m // 3
        proof = log.inclusion_proof(i, m)
        assert proof == ref_path(i, leaves[:m])
        assert verify_inclusion(i, m, leaves[i], proof, log.root_at(m)) is True


def test_corrupted_inclusion_proofs_are_rejected(tree: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = tree
    n = len(leaves)
    root = log.root
    for i in sample(n)[:: max(1, len(sample(n)) // 12)]:
        proof = log.inclusion_proof(i, n)
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = flip(bad[j], (i + j) % 256)
            assert_rejected_inclusion(i, n, leaves[i], bad, root)
        for index in {i - 1, i + 1, i ^ 2} - {i}:
            assert_rejected_inclusion(index, n, leaves[i], proof, root)
        for size in {n * 2, n // 2} - {n}:  # n + 1 may share the proof shape of n
            assert_rejected_inclusion(i, size, leaves[i], proof, root)
        assert_rejected_inclusion(i, n, leaves[i], [*proof, root], root)
        assert_rejected_inclusion(i, n, leaves[i], [root, *proof], root)
        if proof:
            assert_rejected_inclusion(i, n, leaves[i], proof[:-1], root)
        assert_rejected_inclusion(i, n, leaves[i], proof, flip(root, i % 256))


def test_every_consistency_proof_verifies(tree: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = tree
    n = len(leaves)
    roots = [log.root_at(m) for m in range(n + 1)]
    for m in range(1, n + 1):
        proof = log.consistency_proof(m, n)
        assert verify_consistency(m, n, roots[m], roots[n], proof) is True, m
    for m in sample(n + 1)[1:]:
        assert log.consistency_proof(m, n) == ref_proof(m, leaves), m
    seconds = sample(n + 1)[1:] if n > 96 else range(1, n + 1)
    for second in seconds:  # (m, second) for earlier heads too
        for first in sample(second + 1)[1:]:
            proof = log.consistency_proof(first, second)
            assert verify_consistency(first, second, roots[first], roots[second], proof)


def test_corrupted_consistency_proofs_are_rejected(tree: tuple[list[bytes], MerkleLog]) -> None:
    leaves, log = tree
    n = len(leaves)
    for m in sample(n)[1 :: max(1, len(sample(n)) // 12)]:
        root1, root2 = log.root_at(m), log.root
        proof = log.consistency_proof(m, n)
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = flip(bad[j], (m + j) % 256)
            assert_rejected_consistency(m, n, root1, root2, bad)
        assert_rejected_consistency(m, n, root2, root1, proof)
        assert_rejected_consistency(m, n, flip(root1, 3), root2, proof)
        assert_rejected_consistency(m, n, root1, flip(root2, 3), proof)
        for first in {m - 1, m + 1, m ^ 2} - {m, n}:
            assert_rejected_consistency(first, n, root1, root2, proof)
        assert_rejected_consistency(m, n, root1, root2, [*proof, root1])
        assert_rejected_consistency(m, n, root1, root2, [proof[0], *proof])
        assert_rejected_consistency(m, n, root1, root2, proof[:-1])


@pytest.mark.parametrize("n", SIZES)
def test_altering_one_byte_of_one_leaf_is_detected(n: int) -> None:
    data = leaf_data(n)
    log = MerkleLog.from_leaf_hashes(leaf_hash(d) for d in data)
    for target in sorted({0, n // 2, n - 1}):
        tampered_data = list(data)
        tampered_data[target] = flip(data[target], 8 * (len(data[target]) // 2) + 7)
        tampered_leaf = leaf_hash(tampered_data[target])
        tampered = MerkleLog.from_leaf_hashes(leaf_hash(d) for d in tampered_data)

        assert tampered.root != log.root
        old_proof = log.inclusion_proof(target, n)
        assert verify_inclusion(target, n, tampered_leaf, old_proof, log.root) is False
        new_proof = tampered.inclusion_proof(target, n)
        assert verify_inclusion(target, n, tampered_leaf, new_proof, log.root) is False

        # A head taken before the alteration, at a size that covers the altered leaf.
        first = target + 1
        old_head = log.root_at(first)
        if first < n:
            proof = tampered.consistency_proof(first, n)
            assert verify_consistency(first, n, old_head, tampered.root, proof) is False
        else:
            assert tampered.root_at(first) != old_head


def test_appends_after_a_head_stay_consistent_with_it() -> None:
    leaves = [leaf_hash(d) for d in leaf_data(40)]
    log = MerkleLog.from_leaf_hashes(leaves[:17])
    head_size, head_root = log.size, log.root
    for leaf in leaves[17:]:
        log.append(leaf)
        proof = log.consistency_proof(head_size, log.size)
        assert verify_consistency(head_size, log.size, head_root, log.root, proof)
    assert log.root_at(head_size) == head_root


def test_list_functions_and_the_empty_tree() -> None:
    leaves = [leaf_hash(d) for d in leaf_data(11)]
    assert root_hash(leaves) == ref_mth(leaves)
    assert root_hash([]) == EMPTY_ROOT == MerkleLog().root
    assert inclusion_proof(6, leaves) == ref_path(6, leaves)
    assert consistency_proof(5, leaves) == ref_proof(5, leaves)
    assert consistency_proof(11, leaves) == []
    assert leaf_hash(b"") == ref_leaf(b"")


def test_out_of_range_requests_are_refused() -> None:
    log = MerkleLog.from_leaf_hashes(leaf_hash(d) for d in leaf_data(5))
    for call in (
        lambda: log.root_at(6),
        lambda: log.root_at(-1),
        lambda: log.inclusion_proof(5, 5),
        lambda: log.inclusion_proof(-1, 5),
        lambda: log.inclusion_proof(0, 6),
        lambda: log.inclusion_proof(0, 0),
        lambda: log.consistency_proof(0, 5),
        lambda: log.consistency_proof(3, 2),
        lambda: log.consistency_proof(2, 6),
        lambda: log.append(b"short"),
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - several messages
            call()


# --- properties over random sizes ---------------------------------------------------------


@st.composite
def tree_and_points(draw: st.DrawFn) -> tuple[list[bytes], int, int, int]:
    n = draw(st.integers(min_value=1, max_value=300))
    second = draw(st.integers(min_value=1, max_value=n))
    first = draw(st.integers(min_value=1, max_value=second))
    index = draw(st.integers(min_value=0, max_value=second - 1))
    return [ref_leaf(i.to_bytes(4, "big")) for i in range(n)], index, first, second


@settings(max_examples=150, deadline=None)
@given(tree_and_points(), st.integers(min_value=0, max_value=255))
def test_property_proofs_equal_the_reference_and_verify(
    case: tuple[list[bytes], int, int, int], bit: int
) -> None:
    leaves, index, first, second = case
    log = MerkleLog.from_leaf_hashes(leaves)
    old, new = leaves[:first], leaves[:second]
    root1, root2 = log.root_at(first), log.root_at(second)
    assert root1 == ref_mth(old)
    assert root2 == ref_mth(new)

    path = log.inclusion_proof(index, second)
    assert path == ref_path(index, new)
    assert verify_inclusion(index, second, leaves[index], path, root2)
    assert_rejected_inclusion(index, second, flip(leaves[index], bit), path, root2)
    if path:
        assert_rejected_inclusion(
            index, second, leaves[index], [*path[:-1], flip(path[-1], bit)], root2
        )

    proof = log.consistency_proof(first, second)
    assert proof == ref_proof(first, new)
    assert verify_consistency(first, second, root1, root2, proof)
    if proof:
        assert_rejected_consistency(first, second, root1, root2, [flip(proof[0], bit), *proof[1:]])
        assert_rejected_consistency(first, second, flip(root1, bit), root2, proof)


hashes = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))
anything = st.one_of(st.none(), st.text(max_size=3), st.floats(), st.booleans())
numbers = st.one_of(
    st.integers(min_value=0, max_value=70),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([2**64 - 1, 2**64, 2**63, -1]),
)
proofs = st.one_of(
    st.lists(hashes, max_size=8),
    st.tuples(hashes, hashes),
    st.lists(st.one_of(hashes, anything), max_size=4),
    st.lists(st.binary(min_size=32, max_size=32), min_size=129, max_size=140),
    anything,
    st.binary(max_size=64),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(numbers, anything),
    st.one_of(numbers, anything),
    st.one_of(hashes, anything),
    st.one_of(hashes, anything),
    proofs,
)
def test_property_verifiers_never_crash(a: Any, b: Any, h1: Any, h2: Any, proof: Any) -> None:
    with contextlib.suppress(MalformedProofError):
        assert isinstance(verify_inclusion(a, b, h1, proof, h2), bool)
    with contextlib.suppress(MalformedProofError):
        assert isinstance(verify_consistency(a, b, h1, h2, proof), bool)


# --- signed tree heads --------------------------------------------------------------------

WHEN = datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def head(signing_key: Ed25519PrivateKey) -> SignedTreeHead:
    log = MerkleLog.from_leaf_hashes(leaf_hash(d) for d in leaf_data(871))
    return sign_tree_head(signing_key, log.size, log.root, WHEN)


def changed(head: SignedTreeHead, **fields: Any) -> SignedTreeHead:
    return SignedTreeHead.model_validate({**head.model_dump(), **fields})


def test_tree_head_roundtrip(signing_key: Ed25519PrivateKey, head: SignedTreeHead) -> None:
    public = signing_key.public_key()
    assert verify_tree_head(public, head) is True
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert head.key_id == sha256(raw).hexdigest()[:16]
    assert head.key_id == key_id(public)
    published = head.model_dump_json()
    again = SignedTreeHead.model_validate_json(published)
    assert again == head
    assert verify_tree_head(public, again) is True


def test_tree_head_message_is_the_documented_canonical_json(head: SignedTreeHead) -> None:
    expected = (
        b'{"root_hash":"' + head.root_hash.encode() + b'",'
        b'"timestamp":"2026-03-04T05:06:07.000008Z",'
        b'"tree_size":871}'
    )
    assert tree_head_message(head.tree_size, head.root_hash, head.timestamp) == expected
    assert head.model_dump(mode="json")["timestamp"] == "2026-03-04T05:06:07.000008Z"


def test_tree_head_timestamps_are_normalised_to_utc(signing_key: Ed25519PrivateKey) -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    head = sign_tree_head(signing_key, 3, EMPTY_ROOT, local)
    assert head.timestamp == WHEN
    assert head.timestamp.tzinfo is UTC
    assert verify_tree_head(signing_key.public_key(), head)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_tree_head(signing_key, 3, EMPTY_ROOT, datetime(2026, 1, 1))


def test_one_bit_in_any_field_breaks_the_tree_head(
    signing_key: Ed25519PrivateKey, head: SignedTreeHead
) -> None:
    public = signing_key.public_key()
    variants: list[SignedTreeHead] = []
    variants += [changed(head, tree_size=head.tree_size ^ (1 << bit)) for bit in range(53)]
    root = bytes.fromhex(head.root_hash)
    variants += [changed(head, root_hash=flip(root, bit).hex()) for bit in range(256)]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    micros = (head.timestamp - epoch) // timedelta(microseconds=1)
    variants += [
        changed(head, timestamp=epoch + timedelta(microseconds=micros ^ (1 << bit)))
        for bit in range(52)
    ]
    signature = base64.b64decode(head.signature)
    variants += [
        changed(head, signature=base64.b64encode(flip(signature, bit)).decode())
        for bit in range(512)
    ]
    key = bytes.fromhex(head.key_id)
    variants += [changed(head, key_id=flip(key, bit).hex()) for bit in range(64)]

    assert len(variants) == 53 + 256 + 52 + 512 + 64
    assert all(variant != head for variant in variants)
    assert not any(verify_tree_head(public, variant) for variant in variants)
    assert verify_tree_head(Ed25519PrivateKey.generate().public_key(), head) is False


@pytest.mark.parametrize(
    "fields",
    [
        {"root_hash": "AB" * 32},
        {"root_hash": "ab" * 31},
        {"tree_size": -1},
        {"tree_size": MAX_SIGNED_TREE_SIZE + 1},
        {"tree_size": "871"},
        {"timestamp": datetime(2026, 1, 1)},
        {"signature": "not base64!"},
        {"signature": base64.b64encode(b"x" * 63).decode()},
        {"key_id": "ABCDEF0123456789"},
        {"extra": 1},
    ],
)
def test_malformed_tree_heads_are_refused(head: SignedTreeHead, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        changed(head, **fields)


def test_a_non_canonical_signature_encoding_is_refused(head: SignedTreeHead) -> None:
    # 64 bytes leave 4 unused bits in the last base64 digit before "==".
    text = head.signature
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(text[-3])
    sibling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last ^ 1]
    variant = text[:-3] + sibling + "=="
    assert base64.b64decode(variant) == base64.b64decode(text)
    with pytest.raises(ValidationError, match="canonical base64"):
        changed(head, signature=variant)


def test_tree_head_signing_refuses_a_short_root(signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sign_tree_head(signing_key, 1, b"\x00" * 31, WHEN)


# --- the signing-key adapter --------------------------------------------------------------


def test_a_missing_key_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "tree-head.pem"
    created = load_or_create_signing_key(path, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert os.listdir(path.parent) == ["tree-head.pem"]
    loaded = load_or_create_signing_key(path, None)
    assert key_id(loaded.public_key()) == key_id(created.public_key())


def test_the_environment_value_wins_and_may_be_raw_or_pem(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    raw = base64.b64encode(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    path = tmp_path / "unused.pem"
    for value in (raw.decode(), f"  {raw.decode()}\n", pem):
        loaded = load_or_create_signing_key(path, value)
        assert key_id(loaded.public_key()) == key_id(key.public_key())
    assert not path.exists()


def test_unusable_key_material_is_refused(tmp_path: Path) -> None:
    ec_pem = generate_private_key(SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(ec_pem)
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    for path, value in (
        (None, None),
        (None, "not base64!"),
        (None, base64.b64encode(b"x" * 31).decode()),
        (None, ec_pem.decode()),
        (tmp_path / "ec.pem", None),
        (tmp_path / "junk.pem", None),
    ):
        with pytest.raises(SigningKeyError):
            load_or_create_signing_key(path, value)


def test_public_key_exports(signing_key: Ed25519PrivateKey) -> None:
    public = signing_key.public_key()
    loaded = load_pem_public_key(public_key_pem(public).encode())
    assert isinstance(loaded, Ed25519PublicKey)
    assert loaded.public_bytes(Encoding.Raw, PublicFormat.Raw) == base64.b64decode(
        public_key_base64(public)
    )
    assert Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_base64(public))) == public
