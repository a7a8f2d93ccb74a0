"""Docket's log as the transparency-dev ecosystem sees it: the Go reference code
(``tools/logverify``: formats/log with the sumdb note verifier, merkle/proof) verifies
audit's C2SP checkpoints at several tree sizes, inclusion proofs of stored leaves and
consistency proofs between every pair of sizes, all read from the running audit API on
the real broker and database; a tampered checkpoint, a wrong leaf or another key is
refused."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.kafka.security import KafkaAccess
from deploy.tools import logverify
from services.audit.domain.checkpoint import verifier_key
from tests.integration.audit.helpers import publish, scenario, start_audit, wait_until, window

pytestmark = pytest.mark.integration

ORIGIN = "docket.test/audit-checkpoints"


async def run_logverify(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the Go verifier off the event loop: audit answers it from this process."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(logverify.ensure()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def verified(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


async def test_the_go_reference_verifier_accepts_docket_checkpoints_and_proofs(
    kafka_access: KafkaAccess, database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(logverify.ensure)  # the first build may take a while
    audit = await start_audit(kafka_access, database_url, log_origin=ORIGIN)
    conn = await asyncpg.connect(database_url)
    client = httpx.AsyncClient(base_url=audit.url, timeout=10)
    start, _end = window()
    try:
        key = (await client.get("/v1/audit/public-key")).json()
        vkey = key["note_verifier_key"]
        assert key["log_origin"] == ORIGIN
        assert vkey.startswith(f"{ORIGIN}+")

        saved: list[Path] = []
        sizes: list[int] = []
        for round_ in range(3):
            before = await conn.fetchval("SELECT count(*) FROM audit.event_log")
            events = scenario(f"req-cp-{round_}-{secrets.token_hex(3)}", start)
            await publish(kafka_access, events[: 3 + 2 * round_], [])

            async def grown(before: int = before) -> bool:
                count = await conn.fetchval("SELECT count(*) FROM audit.event_log")
                return bool(count > before)

            await wait_until(grown)
            answer = await client.get("/v1/log/checkpoint")
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "text/plain; charset=utf-8"
            checkpoint = tmp_path / f"checkpoint-{round_}"
            summary = verified(
                await run_logverify("-url", audit.url, "-vkey", vkey, "-save", str(checkpoint))
            )
            assert summary["origin"] == ORIGIN
            assert checkpoint.read_text().startswith(f"{ORIGIN}\n{summary['size']}\n")
            saved.append(checkpoint)
            sizes.append(summary["size"])
        assert sizes == sorted(set(sizes)), sizes  # three different, growing sizes

        # inclusion of leaves (hashes as stored) and consistency with every older size
        size = sizes[-1]
        leaves = await conn.fetch(
            "SELECT leaf_index, leaf_hash FROM audit.event_log WHERE leaf_index < $1"
            " ORDER BY leaf_index",
            size,
        )
        picked = {0, 1, size // 2, size - 2, size - 1}
        claims = [
            f"{row['leaf_index']}={bytes(row['leaf_hash']).hex()}"
            for row in leaves
            if row["leaf_index"] in picked
        ]
        assert len(claims) == len(picked)
        latest, older = saved[-1], saved[:-1]
        args = ["-url", audit.url, "-vkey", vkey, "-checkpoint", str(latest)]
        for claim in claims:
            args += ["-inclusion", claim]
        for file in [*older, latest]:
            args += ["-consistent-with", str(file)]
        summary = verified(await run_logverify(*args))
        assert summary["size"] == size
        assert summary["inclusion_proofs_verified"] == len(claims)
        assert summary["consistency_proofs_verified"] == len(saved)
        verified(
            await run_logverify(
                "-url",
                audit.url,
                "-vkey",
                vkey,
                "-checkpoint",
                str(saved[1]),
                "-consistent-with",
                str(saved[0]),
            )
        )

        # what the reference verifier refuses
        text = latest.read_text()
        body, signature = text.split("\n\n")
        origin, tree_size, root = body.split("\n")
        forgeries = {
            "bigger": f"{origin}\n{int(tree_size) + 1}\n{root}\n\n{signature}",
            "other-root": f"{origin}\n{tree_size}\n{saved[0].read_text().split(chr(10))[2]}"
            f"\n\n{signature}",
            "unsigned": body + "\n",
        }
        for name, forged in forgeries.items():
            forged_file = tmp_path / f"forged-{name}"
            forged_file.write_text(forged)
            done = await run_logverify("-vkey", vkey, "-checkpoint", str(forged_file))
            assert done.returncode == 1, (name, done.stdout)
            assert "checkpoint refused" in done.stderr, name

        index, _stored = claims[-1].split("=")
        wrong_leaf = f"{index}={bytes(32).hex()}"
        done = await run_logverify(*args[:6], "-inclusion", wrong_leaf)
        assert done.returncode == 1
        assert "inclusion" in done.stderr

        stranger = verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
        done = await run_logverify("-vkey", stranger, "-checkpoint", str(latest))
        assert done.returncode == 1
        assert "checkpoint refused" in done.stderr
    finally:
        await client.aclose()
        await conn.close()
        await audit.stop()
