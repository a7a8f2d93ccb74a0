"""``services/console/static/verify.js`` in real chromium (WebCrypto SHA-256 and
Ed25519): every transparency-dev/merkle inclusion vector (RFC 6962/9162) in
../shared/testdata, read in place; proofs the audit's own tree makes; checkpoints signed
the way audit signs them, and each way one can be wrong."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Browser, Page

from services.audit.domain.checkpoint import sign_checkpoint, sign_note, verifier_key
from services.audit.domain.merkle import MerkleLog, leaf_hash
from tests.integration.console_trust.harness import HARNESS, open_harness
from tests.unit.audit.test_merkle_vectors import RFC6962_LEAVES
from tests.unit.audit.test_merkle_vectors import VECTORS as MERKLE_VECTORS

VECTORS = MERKLE_VECTORS / "inclusion"
ORIGIN = "http://127.0.0.1:9"  # never reached: every page request is fulfilled
VERIFY = f"{HARNESS}/verify.js"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    opened = await context.new_page()
    await open_harness(opened, ORIGIN)
    try:
        yield opened
    finally:
        await context.close()


async def test_every_inclusion_vector(page: Page) -> None:
    paths = sorted(VECTORS.glob("**/*.json"))
    assert len(paths) == 98
    vectors = []
    for path in paths:
        vector = json.loads(path.read_text())
        vectors.append(
            {
                "name": str(path.relative_to(VECTORS)),
                "leafIdx": str(vector["leafIdx"]),  # uint64: past what a JS number holds
                "treeSize": str(vector["treeSize"]),
                "leafHash": vector["leafHash"],
                "root": vector["root"],
                "proof": vector["proof"],
                "wantErr": vector["wantErr"],
                "leaf": RFC6962_LEAVES[vector["leafIdx"]].hex()
                if path.stem == "happy-path" and path.parent.name.isdigit()
                else None,
            }
        )
    verdicts: dict[str, Any] = await page.evaluate(
        """async ([url, vectors]) => {
          const v = await import(url);
          const out = {};
          for (const t of vectors) {
            let ok;
            try {
              const proof = t.proof === null ? null : t.proof.map(v.fromBase64);
              ok = await v.verifyInclusionHash(
                v.fromBase64(t.leafHash), BigInt(t.leafIdx), BigInt(t.treeSize), proof,
                v.fromBase64(t.root));
              if (t.leaf !== null) {
                // the browser hashes the raw leaf itself
                const bytes = v.fromHex(t.leaf);
                ok = ok && v.toHex(await v.leafHash(bytes)) === v.toHex(v.fromBase64(t.leafHash))
                  && await v.verifyInclusion(bytes, BigInt(t.leafIdx), BigInt(t.treeSize), proof,
                                             v.fromBase64(t.root));
              }
            } catch (error) {
              ok = `threw: ${error.message}`;
            }
            out[t.name] = ok;
          }
          return out;
        }""",
        [VERIFY, vectors],
    )
    wrong = [
        f"{t['name']}: {verdicts[t['name']]}"
        for t in vectors
        if (verdicts[t["name"]] is True) == t["wantErr"]
    ]
    assert not wrong, wrong
    assert sum(1 for t in vectors if verdicts[t["name"]] is True) == sum(
        1 for t in vectors if not t["wantErr"]
    )


async def test_proofs_of_the_audit_tree_verify_from_the_raw_leaves(page: Page) -> None:
    leaves = [secrets.token_bytes(secrets.randbelow(200)) for _ in range(37)]
    log = MerkleLog.from_leaf_hashes(leaf_hash(leaf) for leaf in leaves)
    cases = []
    for size in (1, 2, 7, 8, 9, 16, 31, 37):
        for index in sorted({0, size // 2, size - 1}):
            cases.append(
                {
                    "leaf": leaves[index].hex(),
                    "index": index,
                    "size": size,
                    "path": [node.hex() for node in log.inclusion_proof(index, size)],
                    "root": log.root_at(size).hex(),
                }
            )
    results: list[list[bool]] = await page.evaluate(
        """async ([url, cases]) => {
          const v = await import(url);
          const out = [];
          for (const c of cases) {
            const leaf = v.fromHex(c.leaf);
            const root = v.fromHex(c.root);
            const good = await v.verifyInclusion(leaf, c.index, c.size, c.path, root);
            const changed = leaf.length ? Uint8Array.from(leaf) : Uint8Array.of(0);
            changed[0] ^= 1;
            const bad = await v.verifyInclusion(changed, c.index, c.size, c.path, root);
            const next = (c.index + 1) % c.size;
            const other = c.size > 1
              ? await v.verifyInclusion(leaf, next, c.size, c.path, root)
              : false;
            out.push([good, bad, other]);
          }
          return out;
        }""",
        [VERIFY, cases],
    )
    assert all(good for good, _, _ in results), results
    assert not any(bad for _, bad, _ in results), results
    assert not any(other for _, _, other in results), results


async def _checkpoint_verdict(page: Page, text: str, key: str) -> Any:
    return await page.evaluate(
        """async ([url, text, key]) => {
          const v = await import(url);
          try {
            const c = await v.verifyCheckpoint(text, key);
            return {origin: c.origin, size: c.treeSize.toString(), root: v.toHex(c.rootHash)};
          } catch (error) {
            return {error: error.message};
          }
        }""",
        [VERIFY, text, key],
    )


def _b64_key(key: Ed25519PrivateKey) -> str:
    return verifier_key("x", key.public_key()).split("+", 2)[2]


async def test_checkpoints_signed_as_audit_signs_them(page: Page) -> None:
    origin = "docket.test/verify-js"
    # a key whose base64 holds a "+" (the verifier key's separator) must read too
    key = next(k for k in iter(Ed25519PrivateKey.generate, None) if "+" in _b64_key(k))
    vkey = verifier_key(origin, key.public_key())
    root = secrets.token_bytes(32)
    text = sign_checkpoint(key, origin, 12345, root)
    assert await _checkpoint_verdict(page, text, vkey) == {
        "origin": origin,
        "size": "12345",
        "root": root.hex(),
    }
    body, _, signature = text.partition("\n\n")
    another = Ed25519PrivateKey.generate()
    b64_root = base64.b64encode(root).decode()
    refused = {
        "another key": (text, verifier_key(origin, another.public_key())),
        "another size": (text.replace("\n12345\n", "\n12346\n"), vkey),
        "another root": (text.replace(b64_root, base64.b64encode(bytes(32)).decode()), vkey),
        "signed by another key": (sign_checkpoint(another, origin, 12345, root), vkey),
        "another origin": (
            sign_checkpoint(key, "docket.test/other", 12345, root),
            verifier_key("docket.test/other", key.public_key()).replace(
                "docket.test/other", origin, 1
            ),
        ),
        "no signature": (body + "\n", vkey),
        "not a checkpoint": (sign_note(key, origin, "hello\n"), vkey),
        "bad key hash": (text, vkey.replace(vkey.split("+")[1], "00000000")),
        "garbled key": (text, vkey[:-4] + "AAA="),
    }
    for why, (candidate, verifier) in refused.items():
        verdict = await _checkpoint_verdict(page, candidate, verifier)
        assert "error" in verdict, f"accepted a checkpoint with {why}: {verdict}"
    # a second signature by someone else beside the log's is fine
    cosigned = text + sign_note(another, "witness.test", body + "\n").split("\n\n", 1)[1]
    assert (await _checkpoint_verdict(page, cosigned, vkey))["size"] == "12345"
    assert signature.startswith("\u2014 docket.test/verify-js ")
