"""Requests of three kinds for the security tests, each submitted the way its owner
would: ``own`` (example 01, the ``submitter`` key's organisation, CBP), ``other``
(example 02, the ``other_submitter`` key's) and ``natsec`` (example 05, a national
security letter, entered by national-security counsel). Every gag is in force until
2099, so no notice about an ``other`` or ``natsec`` request may ever be sent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from shared.auth.keys import Role
from tests.fixtures.keys import STANDARD_KEYS
from tests.fixtures.system import DocketSystem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
KINDS = {
    "own": ("01-customs-summons-anonymous-critic.json", "submitter"),
    "other": ("02-grand-jury-subpoena-with-gag.json", "other_submitter"),
    "natsec": ("05-national-security-letter.json", "natsec"),
}
#: Every caller of the matrix: no credential, then one key per role.
CALLERS = ("none", *STANDARD_KEYS)
#: example 02's account: nothing may be sent to it while its gags are in force
GAGGED_RECIPIENT = "owner-mx-0035@example.org"


def body_of(kind: str) -> dict[str, Any]:
    """The example of ``kind`` under a fresh external_ref (a new request)."""
    body: dict[str, Any] = json.loads((EXAMPLES / KINDS[kind][0]).read_text())
    tag = uuid.uuid4()
    body["external_ref"] = f"SEC-{tag}"
    # a demand of its own, not a copy the classifier would link as a duplicate
    body["instrument"] = {**body["instrument"], "case_number": f"SEC-CASE-{tag}"}
    if kind != "own":
        body["instrument"]["nondisclosure"]["expires_at"] = "2099-01-01T00:00:00Z"
    return body


def headers(system: DocketSystem, caller: str) -> dict[str, str]:
    return {} if caller == "none" else system.auth_as(caller)


def role_of(caller: str) -> Role | None:
    return None if caller == "none" else STANDARD_KEYS[caller].role


def sees(caller: str, kind: str) -> bool:
    """Who may see a request of ``kind``, written out independently of the policy code:
    national-security process only the national-security scope; a submitter only its
    organisation's; legal staff, readers and auditors every other request."""
    if kind == "natsec":
        return caller == "natsec"
    if caller == "submitter":
        return kind == "own"
    if caller == "other_submitter":
        return kind == "other"
    return caller in ("legal", "reader", "auditor", "natsec")


async def submit(system: DocketSystem, kind: str) -> str:
    """A new request of ``kind``, submitted by its owner; its id."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{system.intake_url}/v1/requests",
            json=body_of(kind),
            headers=system.auth_as(KINDS[kind][1]),
        )
    assert response.status_code == 202, response.text
    request_id: str = response.json()["request_id"]
    return request_id


async def submit_and_settle(system: DocketSystem, kind: str) -> str:
    """A new request of ``kind``, once audit shows it classified."""
    request_id = await submit(system, kind)
    await system.wait_for_history(request_id, lambda h: h["classification"] is not None)
    return request_id
