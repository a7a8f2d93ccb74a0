"""The RFC 9162 Merkle tree over the audit log (SHA-256, RFC 9162 section 2.1).

Generation (``MerkleLog``) keeps every perfect-subtree hash, so roots, inclusion proofs
and consistency proofs for any earlier size cost O(log n) hashes. The verifiers follow
RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step; they are the security boundary and
only ever return a bool or raise ``MalformedProofError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32
#: MTH({}) = SHA-256("") (RFC 9162 section 2.1.1).
EMPTY_ROOT = sha256(b"").digest()
#: Tree sizes and indexes are uint64 on the wire (RFC 9162 section 4.11).
MAX_TREE_SIZE = 2**64 - 1

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
#: Longer than any proof in a tree of uint64 size; bounds the verifiers' work.
_MAX_PROOF_LENGTH = 2 * 64


class MalformedProofError(ValueError):
    """Verifier input that is not a well-formed proof claim.

    Raised for wrong types, sizes or indexes outside uint64, and leaf or proof hashes
    that are not 32 bytes. A well-formed proof that does not prove the claim makes the
    verifier return ``False`` instead; callers must treat both as a failed verification.
    """


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d) (RFC 9162 section 2.1.1)."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1)."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (> 1): the k of RFC 9162 2.1.1."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleLog:
    """An append-only RFC 9162 Merkle tree over leaf hashes.

    ``level(h)[i]`` is the hash of the perfect subtree over leaves ``[i * 2**h,
    (i + 1) * 2**h)``; it never changes once complete, so every earlier tree is still
    described by the stored levels. Appends cost O(1) amortized hashes; ``root_at``,
    ``inclusion_proof`` and ``consistency_proof`` cost O(log n). Memory: about 2n hashes.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MerkleLog:
        """Rebuild the tree from leaf hashes in leaf-index order."""
        log = cls()
        for leaf in leaf_hashes:
            log.append(leaf)
        return log

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    @property
    def root(self) -> bytes:
        """MTH of the whole current tree."""
        return self.root_at(self.size)

    @property
    def num_levels(self) -> int:
        """How many levels ``level`` accepts (level 0 holds the leaf hashes)."""
        return len(self._levels)

    def level(self, height: int, start: int = 0) -> tuple[bytes, ...]:
        """Perfect-subtree hashes of height ``height`` from position ``start`` on.

        For persisting subtree hashes: pass the count already stored as ``start``.
        """
        if not 0 <= height < len(self._levels):
            raise ValueError(f"no level {height}; the tree has {len(self._levels)} levels")
        if start < 0:
            raise ValueError(f"start must not be negative, got {start}")
        return tuple(self._levels[height][start:])

    def leaf_at(self, index: int) -> bytes:
        """The leaf hash at ``index`` (O(1); ``level`` copies the rest of the level)."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} is not in 0..{self.size - 1}")
        return self._levels[0][index]

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash (``leaf_hash(data)``); return its leaf index."""
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(leaf)
        node, position, height = leaf, index, 0
        while position & 1:  # a right child completes its parent
            node = sha256(_NODE_PREFIX + levels[height][position - 1] + node).digest()
            height += 1
            position >>= 1
            if height == len(levels):
                levels.append([])
            levels[height].append(node)
        return index

    def root_at(self, tree_size: int) -> bytes:
        """MTH(D[0:tree_size]) for any ``tree_size <= size`` (RFC 9162 section 2.1.1)."""
        self._check_size(tree_size)
        return self._subtree_hash(0, tree_size) if tree_size else EMPTY_ROOT

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        """PATH(leaf_index, D[0:tree_size]) (RFC 9162 section 2.1.3.1), leaf side first."""
        self._check_size(tree_size)
        if not 0 <= leaf_index < tree_size:
            raise ValueError(f"leaf index {leaf_index} is not in a tree of size {tree_size}")
        path: list[bytes] = []  # collected top-down
        start, end = 0, tree_size
        while end - start > 1:
            k = _split(end - start)
            if leaf_index < start + k:
                path.append(self._subtree_hash(start + k, end))
                end = start + k
            else:
                path.append(self._subtree_hash(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[0:second]) via SUBPROOF (RFC 9162 section 2.1.4.1).

        Requires ``0 < first <= second <= size``; the proof for ``first == second`` is
        empty.
        """
        self._check_size(second)
        if not 0 < first <= second:
            raise ValueError(f"no consistency proof from size {first} to size {second}")
        proof: list[bytes] = []  # collected top-down
        start, end, whole_first_tree = 0, second, True
        while end != first:  # SUBPROOF(first - start, D[start:end], b) while m < n
            k = _split(end - start)
            if first - start <= k:
                proof.append(self._subtree_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree_hash(start, start + k))
                start += k
                whole_first_tree = False
        if not whole_first_tree:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
            proof.append(self._subtree_hash(start, end))
        proof.reverse()
        return proof

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise ValueError(f"tree size {tree_size} is not in 0..{self.size}")

    def _subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a non-empty range of the RFC 9162 recursion.

        Such a range starts at a multiple of its size rounded up to a power of two, so
        it splits into stored perfect subtrees from the left; they are folded right to
        left as the recursion in RFC 9162 section 2.1.1 does.
        """
        lefts: list[bytes] = []
        while True:
            height = (end - start).bit_length() - 1
            stored = self._levels[height][start >> height]
            if end - start == 1 << height:
                break
            lefts.append(stored)
            start += 1 << height
        for left in reversed(lefts):
            stored = node_hash(left, stored)
        return stored


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes (RFC 9162 section 2.1.1)."""
    return MerkleLog.from_leaf_hashes(leaf_hashes).root


def inclusion_proof(leaf_index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(leaf_index, D[n]) over a list of leaf hashes (RFC 9162 section 2.1.3.1)."""
    return MerkleLog.from_leaf_hashes(leaf_hashes).inclusion_proof(leaf_index, len(leaf_hashes))


def consistency_proof(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[n]) over a list of leaf hashes (RFC 9162 section 2.1.4.1)."""
    log = MerkleLog.from_leaf_hashes(leaf_hashes)
    return log.consistency_proof(first, len(leaf_hashes))


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verify an inclusion proof exactly as RFC 9162 section 2.1.3.2 describes.

    ``root`` is compared as opaque bytes. Returns whether the proof holds; raises
    ``MalformedProofError`` for malformed input.
    """
    _check_uint64(leaf_index, "leaf_index")
    _check_uint64(tree_size, "tree_size")
    _check_hash(leaf_hash, "leaf_hash")
    path = _checked_proof(proof)
    _check_bytes(root, "root")
    if leaf_index >= tree_size:  # step 1
        return False
    fn, sn = leaf_index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    for p in path:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Verify a consistency proof exactly as RFC 9162 section 2.1.4.2 describes.

    That algorithm covers ``0 < first < second``. Beyond it: ``first == second > 0``
    holds iff the proof is empty and the roots are the same bytes; ``first == 0`` (the
    empty tree) or ``first > second`` never holds. Returns whether the proof holds;
    raises ``MalformedProofError`` for malformed input.
    """
    _check_uint64(first, "first")
    _check_uint64(second, "second")
    _check_bytes(first_root, "first_root")
    _check_bytes(second_root, "second_root")
    path = _checked_proof(proof)
    if first == 0 or first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if len(first_root) != HASH_SIZE or len(second_root) != HASH_SIZE:
        return False  # no tree has such a root; and first_root may be hashed below
    if not path:  # step 1
        return False
    if first & (first - 1) == 0:  # step 2
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0  # step 7


def _check_uint64(value: int, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedProofError(f"{name} must be an int")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise MalformedProofError(f"{name} must be a uint64, got {value}")


def _check_bytes(value: bytes, name: str) -> None:
    if not isinstance(value, bytes):
        raise MalformedProofError(f"{name} must be bytes")


def _check_hash(value: bytes, name: str) -> None:
    _check_bytes(value, name)
    if len(value) != HASH_SIZE:
        raise MalformedProofError(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")


def _checked_proof(proof: Sequence[bytes]) -> list[bytes]:
    """A copy of ``proof`` after checking every element is a 32-byte hash.

    Fixed-size elements keep 0x01 || left || right unambiguous.
    """
    if not isinstance(proof, list | tuple):
        raise MalformedProofError("proof must be a list or tuple of hashes")
    if len(proof) > _MAX_PROOF_LENGTH:
        raise MalformedProofError(f"proof has {len(proof)} elements")
    for element in proof:
        _check_hash(element, "proof element")
    return list(proof)
