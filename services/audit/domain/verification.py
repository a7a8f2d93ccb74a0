"""The offline verifier of the audit log: the security boundary.

It trusts nothing it is given except the public key. From the leaves (index, data,
stored hash) and the signed tree heads it checks, in order:

1. leaf indexes run 0, 1, 2, ... without gaps or repeats;
2. every stored leaf hash is SHA-256(0x00 || leaf data) (RFC 9162);
3. every head is signed by the key (Ed25519) and covers no more leaves than exist;
4. the root recomputed from the leaf data equals each head's signed root;
5. consecutive heads are consistent (an RFC 9162 consistency proof is generated from
   the recomputed tree and verified against the two signed roots).

The tree is built from hashes of the data, never from the stored hashes, so rewriting
a leaf together with its stored hash still breaks the root of every later head.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit.domain.merkle import MerkleLog, leaf_hash, verify_consistency
from services.audit.domain.tree_head import SignedTreeHead, verify_tree_head


@dataclass(frozen=True)
class Leaf:
    index: int
    data: bytes
    stored_hash: bytes


@dataclass
class VerificationReport:
    leaves: int = 0
    heads: int = 0
    problems: list[str] = field(default_factory=list)
    #: The lowest leaf index shown to be wrong (bad hash or index), if any.
    first_bad_leaf: int | None = None
    #: When only a root disagrees: the altered leaf lies in ``[start, end)``.
    bad_leaf_range: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add_bad_leaf(self, index: int, problem: str) -> None:
        self.problems.append(problem)
        if self.first_bad_leaf is None or index < self.first_bad_leaf:
            self.first_bad_leaf = index


class LogVerifier:
    """Fed leaves one at a time (a log may not fit in memory), then the heads."""

    def __init__(self) -> None:
        self._report = VerificationReport()
        self._tree = MerkleLog()

    def add(self, leaf: Leaf) -> None:
        position = self._tree.size
        if leaf.index != position:
            self._report.add_bad_leaf(
                position, f"leaf {position}: found index {leaf.index} in its place"
            )
        computed = leaf_hash(leaf.data)
        if computed != leaf.stored_hash:
            self._report.add_bad_leaf(
                position, f"leaf {position}: stored hash does not match SHA-256 of its data"
            )
        self._tree.append(computed)

    def finish(
        self, heads: Iterable[SignedTreeHead], public_key: Ed25519PublicKey
    ) -> VerificationReport:
        self._report.leaves = self._tree.size
        ordered = sorted(heads, key=lambda h: h.tree_size)
        _check_heads(self._tree, ordered, public_key, self._report)
        return self._report


def verify_log(
    leaves: Iterable[Leaf], heads: Iterable[SignedTreeHead], public_key: Ed25519PublicKey
) -> VerificationReport:
    """Check ``leaves`` (in the order given) and ``heads`` against ``public_key``."""
    verifier = LogVerifier()
    for leaf in leaves:
        verifier.add(leaf)
    return verifier.finish(heads, public_key)


def _check_heads(
    tree: MerkleLog,
    heads: list[SignedTreeHead],
    public_key: Ed25519PublicKey,
    report: VerificationReport,
) -> None:
    report.heads = len(heads)
    good_size = 0  # the largest size whose signed root matched the recomputed one
    previous: SignedTreeHead | None = None
    for head in heads:
        size = head.tree_size
        if not verify_tree_head(public_key, head):
            report.problems.append(f"tree head {size}: signature does not verify with the key")
        if size > tree.size:
            report.problems.append(
                f"tree head {size}: signed for {size} leaves but the log has {tree.size}"
            )
            continue
        if tree.root_at(size).hex() != head.root_hash:
            report.problems.append(
                f"tree head {size}: recomputed root differs from the signed root"
            )
            if report.bad_leaf_range is None:
                report.bad_leaf_range = (good_size, size)
        else:
            good_size = max(good_size, size)
        if previous is not None:
            _check_consistency(tree, previous, head, report)
        previous = head


def _check_consistency(
    tree: MerkleLog, first: SignedTreeHead, second: SignedTreeHead, report: VerificationReport
) -> None:
    m, n = first.tree_size, second.tree_size
    if m == 0:
        return  # the empty tree is consistent with every tree
    proof = tree.consistency_proof(m, n)
    if not verify_consistency(
        m, n, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash), proof
    ):
        report.problems.append(f"tree heads {m} and {n}: not consistent")
