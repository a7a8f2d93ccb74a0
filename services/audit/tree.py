"""The Merkle tree over the audit log, kept in memory and caught up from PostgreSQL.

Any audit instance can serve proofs: before answering it loads the leaves committed
since it last looked (leaf indexes are dense, so "since" is just its current size).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.domain.checkpoint import sign_checkpoint
from services.audit.domain.merkle import MerkleLog
from services.audit.domain.tree_head import SignedTreeHead, sign_tree_head
from services.audit.store import AuditStore


class LogTree:
    def __init__(self, store: AuditStore, signing_key: Ed25519PrivateKey, origin: str) -> None:
        self._store = store
        self._key = signing_key
        #: The log's name in its checkpoints, and its key's name.
        self.origin = origin
        self._tree = MerkleLog()
        self._lock = asyncio.Lock()

    @property
    def tree(self) -> MerkleLog:
        return self._tree

    async def catch_up(self) -> int:
        async with self._lock:
            for leaf in await self._store.leaf_hashes_from(self._tree.size):
                self._tree.append(leaf)
            return self._tree.size

    async def sign_if_grown(self) -> SignedTreeHead | None:
        """The periodic signer's step: sign when the log outgrew the latest head, and
        only while holding the signer lock (one instance signs; the others skip)."""
        async with self._store.signer_lock() as held:
            if not held:
                return None
            size = await self.catch_up()
            latest = await self._store.latest_tree_head_size()
            if latest is not None and latest >= size:
                return None
            return await self.sign_head()

    async def sign_head(self) -> SignedTreeHead:
        """Sign the current tree and keep the head (once per size)."""
        size = await self.catch_up()
        existing = await self._store.tree_head(size)
        if existing is not None:
            return existing
        head = sign_tree_head(self._key, size, self._tree.root_at(size), datetime.now(UTC))
        return await self._store.save_tree_head(head)

    async def checkpoint(self) -> str:
        """The current tree head (signed and kept as ``sign_head`` does) as a C2SP
        checkpoint signed with the same key."""
        head = await self.sign_head()
        root = bytes.fromhex(head.root_hash)
        return sign_checkpoint(self._key, self.origin, head.tree_size, root)
