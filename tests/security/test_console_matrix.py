"""The console's routes against the access policy, tried live for every kind of person
(not signed in, legal staff, a reader, an auditor, national-security counsel), and the
delegation of its key at intake's and audit's guard: a person's role, never above the
key's, and nobody else's key may name a person."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from services.console.context import staff
from shared.auth.guard import ACTING_NATIONAL_SECURITY, ACTING_ROLE, ACTING_SUBJECT
from shared.auth.policy import CONSOLE, POLICY, policy_for
from tests.fixtures.console import ConsoleSystem
from tests.security.world import submit_and_settle

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PEOPLE = {
    "legal": ("legal", False),
    "reader": ("reader", False),
    "auditor": ("auditor", False),
    "natsec": ("legal", True),
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def signed_in(console: ConsoleSystem, who: str | None) -> httpx.AsyncClient:
    """A client with ``who``'s session (None: nobody signed in), never following
    redirects."""
    client = httpx.AsyncClient(base_url=console.url, timeout=30, follow_redirects=False)
    if who is None:
        return client
    role, natsec = PEOPLE[who]
    form = await client.get("/signin/dev")
    match = _CSRF.search(form.text)
    assert match, form.text
    fields = {"csrf_token": match.group(1), "role": role, "name": f"Test {who}", "next": "/"}
    if natsec:
        fields["national_security"] = "on"
    answer = await client.post("/signin/dev", data=fields)
    assert answer.status_code == 303, answer.text
    return client


def _csrf(page: httpx.Response) -> str:
    """The session's token, from any page of a signed-in person (the sign-out form)."""
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


@pytest.fixture
async def requests(console_system: ConsoleSystem) -> dict[str, str]:
    system = console_system.system
    return {kind: await submit_and_settle(system, kind) for kind in ("own", "natsec")}


async def test_every_console_route_has_a_policy_and_checks_it(
    console_system: ConsoleSystem,
) -> None:
    app = console_system.console.app
    served = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            served.add(("GET", f"{route.path}/{{path:path}}"))
            continue
        assert isinstance(route, APIRoute), route
        assert context.path is not None
        for method in (context.methods or set()) - {"HEAD"}:
            served.add((method, context.path))
            policy = policy_for(CONSOLE, method, context.path)
            assert policy is not None, (method, context.path)
            guarded = any(d.call is staff for d in route.dependant.dependencies)
            assert guarded == (not policy.public), (method, context.path)
    entries = {(e.method, e.path) for e in POLICY if e.service == CONSOLE}
    assert entries <= served, entries - served


async def test_each_person_reaches_what_the_table_says(
    console_system: ConsoleSystem, requests: dict[str, str]
) -> None:
    own, natsec = requests["own"], requests["natsec"]
    # a leaf of the caller's own request (the shared log's first leaf may be another
    # test's national-security request, which legal staff without the scope never see)
    conn = await asyncpg.connect(console_system.system.database_url)
    try:
        leaf = await conn.fetchval(
            "SELECT min(leaf_index) FROM audit.event_log WHERE request_id = $1", own
        )
    finally:
        await conn.close()
    reads = {
        "/queue": {"legal", "natsec"},
        f"/requests/{own}": {"legal", "reader", "auditor", "natsec"},
        "/report": {"legal", "reader", "auditor", "natsec"},
        "/report.csv": {"legal", "reader", "auditor", "natsec"},
        "/report/chart.svg": {"legal", "reader", "auditor", "natsec"},
        "/policy": {"legal", "reader", "auditor", "natsec"},
        "/log/checkpoint": {"legal", "reader", "auditor", "natsec"},
        "/log/proof?leaf_index=0&tree_size=1": {"legal", "reader", "auditor", "natsec"},
        f"/log/leaves/{leaf}": {"legal", "natsec"},
    }
    failures = []
    cells = 0
    for who in (None, *PEOPLE):
        client = await signed_in(console_system, who)
        try:
            for path, allowed in reads.items():
                answer = await client.get(path)
                cells += 1
                expected = 303 if who is None else 200 if who in allowed else 403
                if answer.status_code != expected:
                    failures.append(f"{who} GET {path}: {answer.status_code}, not {expected}")
                if who is None and not answer.headers.get("location", "").startswith("/signin"):
                    failures.append(f"{who} GET {path}: not sent to sign in")
            # national-security process: only with that scope, 404 for everyone else
            answer = await client.get(f"/requests/{natsec}")
            cells += 1
            expected = 303 if who is None else 200 if who == "natsec" else 404
            if answer.status_code != expected:
                failures.append(f"{who} GET natsec request: {answer.status_code}, not {expected}")
            # an action: legal staff only, and only with the session's CSRF token
            token = ""
            if who is not None:
                token = _csrf(await client.get("/report"))
            comment = {"csrf_token": token, "comment": f"matrix comment by {who}"}
            answer = await client.post(f"/requests/{own}/actions/comment", data=comment)
            cells += 1
            expected = 303 if who in ("legal", "natsec") else 403
            if answer.status_code != expected:
                failures.append(f"{who} POST comment: {answer.status_code}, not {expected}")
            if who is not None:
                for forged in ({}, {"csrf_token": "forged"}):
                    answer = await client.post(
                        f"/requests/{own}/actions/comment", data={**forged, "comment": "x"}
                    )
                    cells += 1
                    if answer.status_code != 403:
                        failures.append(f"{who} POST without CSRF: {answer.status_code}")
        finally:
            await client.aclose()

    print(f"\nCONSOLE MATRIX cells={cells}")
    assert not failures, "\n".join(failures)
    assert cells == 5 * (len(reads) + 2) + 4 * 2


def _acting(key: str, role: str, natsec: bool = False, subject: str = "00u-test") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        ACTING_SUBJECT: subject,
        ACTING_ROLE: role,
        ACTING_NATIONAL_SECURITY: "true" if natsec else "false",
    }


async def test_the_console_key_acts_only_for_a_person_and_never_above_itself(
    console_system: ConsoleSystem, requests: dict[str, str]
) -> None:
    system, key = console_system.system, console_system.key
    own, natsec = requests["own"], requests["natsec"]
    comment = {"comment": f"delegation test {uuid.uuid4()}"}
    async with httpx.AsyncClient(timeout=30) as client:
        # naming nobody, the console's key is refused everywhere that needs a key
        bare = await client.get(
            f"{system.audit_url}/v1/requests", headers={"Authorization": f"Bearer {key}"}
        )
        assert bare.status_code == 403
        assert ACTING_SUBJECT in bare.json()["detail"]
        # acting as legal staff: reads and writes, recorded as the person
        answer = await client.post(
            f"{system.intake_url}/v1/requests/{own}/comments",
            json=comment,
            headers=_acting(key, "legal"),
        )
        assert answer.status_code == 202, answer.text
        history = await system.wait_for_history(
            own,
            lambda h: any(a.get("comment") == comment["comment"] for a in h["counsel"]["actions"]),
        )
        [action] = [
            a for a in history["counsel"]["actions"] if a.get("comment") == comment["comment"]
        ]
        assert action["author"] == "console:00u-test"
        # acting as a reader: the reader's rights (no counsel commands, no personal data)
        answer = await client.post(
            f"{system.intake_url}/v1/requests/{own}/comments",
            json=comment,
            headers=_acting(key, "reader"),
        )
        assert answer.status_code == 403
        read = await client.get(
            f"{system.audit_url}/v1/requests/{own}", headers=_acting(key, "reader")
        )
        assert read.status_code == 200
        assert read.json()["received"]["submission"]["instrument"]["document_text"] == "[redacted]"
        # national-security process only when the person has the scope (the key has it)
        hidden = await client.get(
            f"{system.audit_url}/v1/requests/{natsec}", headers=_acting(key, "legal")
        )
        assert hidden.status_code == 404
        shown = await client.get(
            f"{system.audit_url}/v1/requests/{natsec}", headers=_acting(key, "legal", natsec=True)
        )
        assert shown.status_code == 200
        # never a submitter, never an unknown role, never a malformed subject
        for headers in (
            _acting(key, "submitter"),
            _acting(key, "root"),
            _acting(key, "legal", subject="two words"),
        ):
            refused = await client.get(f"{system.audit_url}/v1/requests", headers=headers)
            assert refused.status_code == 403, headers
        # a key without the delegation right may not name anyone
        posing = await client.get(
            f"{system.audit_url}/v1/requests", headers=_acting(system.api_key, "legal")
        )
        assert posing.status_code == 403
