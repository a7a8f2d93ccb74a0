"""The role x route matrix, read from the policy table and tried on the running system:
every route of every service has an entry, and every cell (caller x route x request
kind) answers what the table says: allowed (2xx), 401, 403 or 404."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from shared.auth.guard import authorise
from shared.auth.policy import (
    CONSOLE,
    COUNSEL_ROUTES,
    EVERY_SERVICE,
    POLICY,
    RoutePolicy,
    policy_for,
)
from tests.fixtures.system import DocketSystem
from tests.security.world import (
    CALLERS,
    KINDS,
    body_of,
    headers,
    role_of,
    sees,
    submit,
    submit_and_settle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

#: A call of one route: (client, caller's headers, request id or body kind) -> answer.
Call = Callable[[httpx.AsyncClient, dict[str, str], str | None], Awaitable[httpx.Response]]
PERIOD = {"from": "2016-01-01T00:00:00Z", "to": "2018-01-01T00:00:00Z"}


def _routes(system: DocketSystem) -> list[tuple[str, str, str, BaseRoute]]:
    """(service, method, path, route) of every route every running service serves,
    those of included routers with their prefix."""
    found = []
    for name, running in system.services.items():
        for context in iter_route_contexts(running.app.routes):
            assert context.path is not None, context
            for method in sorted(context.methods or ()):
                if method != "HEAD":
                    found.append((name, method, context.path, context.original_route))
    return found


def _guarded(route: BaseRoute) -> bool:
    """Whether the route's dependencies include the authorising one."""
    if not isinstance(route, APIRoute):
        return False
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is authorise:
            return True
        pending.extend(dependant.dependencies)
    return False


async def test_every_route_has_a_policy_and_every_guarded_route_checks_it(
    docket_system: DocketSystem,
) -> None:
    routes = _routes(docket_system)
    missing = [(s, m, p) for s, m, p, _ in routes if policy_for(s, m, p) is None]
    assert not missing, f"routes without an entry in shared/auth/policy.py: {missing}"
    for service, method, path, route in routes:
        policy = policy_for(service, method, path)
        assert policy is not None
        assert _guarded(route) == (not policy.public), (service, method, path)
    served = {(s, m, p) for s, m, p, _ in routes}
    for entry in POLICY:
        # the console's routes are checked by test_console_matrix.py
        if entry.service not in (EVERY_SERVICE, CONSOLE):
            assert (entry.service, entry.method, entry.path) in served, entry
    public = sorted({(m, p) for s, m, p, _ in routes if policy_for(s, m, p).public})  # type: ignore[union-attr]
    print(f"\nOPEN ENDPOINTS {len(public)}: {public}")


@dataclass
class Matrix:
    system: DocketSystem
    world: dict[str, str]
    cells: int = 0

    def __post_init__(self) -> None:
        self.failures: list[str] = []

    def check(
        self, cell: str, response: httpx.Response, expected: int, extra: str | None = None
    ) -> None:
        self.cells += 1
        if response.status_code != expected:
            self.failures.append(f"{cell}: expected {expected}, got {response.status_code}")
        elif extra is not None:
            self.failures.append(f"{cell}: {extra}")


def _expected(policy: RoutePolicy, caller: str, kind: str | None, allowed_status: int) -> int:
    if policy.public:
        return allowed_status
    role = role_of(caller)
    if role is None:
        return 401
    if role not in policy.allowed:
        return 403
    if kind is not None and not sees(caller, kind):
        return 404
    return allowed_status


def _note() -> dict[str, Any]:
    return {"note": "security matrix", "effective_at": datetime.now(UTC).isoformat()}


async def test_every_cell_of_the_matrix(docket_system: DocketSystem) -> None:
    system = docket_system
    world = {kind: await submit_and_settle(system, kind) for kind in KINDS}
    matrix = Matrix(system, world)
    async with httpx.AsyncClient(timeout=30) as client:
        await _intake_cells(matrix, client)
        await _counsel_cells(matrix, client)
        await _audit_cells(matrix, client)
        await _frame_cells(matrix, client)
    print(f"\nSECURITY MATRIX cells={matrix.cells}")
    assert not matrix.failures, "\n".join(matrix.failures)
    frame_routes = sum(
        1 for s, _, p, _ in _routes(system) if policy_for(s, "GET", p) in _frame_policies()
    )
    # audit per caller: list, dead letters, queue; a history per kind; 7 public routes
    service_cells = 3 * len(CALLERS) * 3 + len(CALLERS) * (3 + 3 + 7)
    service_cells += len(COUNSEL_ROUTES) * len(CALLERS) * len(KINDS)
    # a leaf of each kind's request, and one past the end of the log
    service_cells += len(CALLERS) * (len(KINDS) + 1)
    assert matrix.cells == service_cells + frame_routes * len(CALLERS)


def _frame_policies() -> list[RoutePolicy]:
    return [entry for entry in POLICY if entry.service == EVERY_SERVICE]


async def _intake_cells(matrix: Matrix, client: httpx.AsyncClient) -> None:
    system = matrix.system
    submit_policy = policy_for("intake", "POST", "/v1/requests")
    assert submit_policy is not None
    for caller in CALLERS:
        for kind in KINDS:
            # a submitter may submit only for its own organisation: 403 (it names the
            # other organisation itself, so nothing is disclosed)
            expected = _expected(submit_policy, caller, None, 202)
            if expected == 202 and caller.endswith("submitter") and not sees(caller, kind):
                expected = 403
            response = await client.post(
                f"{system.intake_url}/v1/requests",
                json=body_of(kind),
                headers=headers(system, caller),
            )
            matrix.check(f"intake submit {caller} x {kind}", response, expected)
    for path, body in (("amendments", _note), ("decision", lambda: {"outcome": "rejected"})):
        policy = policy_for("intake", "POST", f"/v1/requests/{{request_id}}/{path}")
        assert policy is not None
        for caller in CALLERS:
            for kind in KINDS:
                target = await submit(system, kind)  # fresh: a decision is final
                response = await client.post(
                    f"{system.intake_url}/v1/requests/{target}/{path}",
                    json=body(),
                    headers=headers(system, caller),
                )
                expected = _expected(policy, caller, kind, 202)
                matrix.check(f"intake {path} {caller} x {kind}", response, expected)


def _counsel_body(path: str, kind: str) -> dict[str, Any]:
    """A decision of counsel for each route, harmless to the matrix's own requests (no
    account of theirs is withheld, no gag is touched, the authority is kept)."""
    nobody = {"handle": "@matrix-nobody"}
    reason = {"reason": "security matrix"}
    category = body_of(kind)["data_requested"][0]
    bodies: dict[str, dict[str, Any]] = {
        "requester-verification": {
            "method": "directory_callback",
            "contact": "duty officer",
            "contacted_at": datetime.now(UTC).isoformat(),
            "outcome": "verified",
            **reason,
        },
        "verdict-override": {"risk_level": "high", **reason},
        "holds/end": {"hold": "EMERGENCY_DEFER", **reason},
        "holds/withhold": {"target": nobody, **reason},
        "production": {
            "target": nobody,
            "decisions": [{"category": category, "decision": "do_not_produce"}],
            **reason,
        },
        "assignment": {"assignee": "matrix-reviewer", **reason},
        "comments": {"comment": "security matrix"},
    }
    return bodies[path]


async def _counsel_cells(matrix: Matrix, client: httpx.AsyncClient) -> None:
    """Counsel's commands: legal staff only (404 for a request the key may not see)."""
    system = matrix.system
    for path, _summary in COUNSEL_ROUTES:
        policy = policy_for("intake", "POST", f"/v1/requests/{{request_id}}/{path}")
        assert policy is not None
        for caller in CALLERS:
            for kind, request_id in matrix.world.items():
                response = await client.post(
                    f"{system.intake_url}/v1/requests/{request_id}/{path}",
                    json=_counsel_body(path, kind),
                    headers=headers(system, caller),
                )
                expected = _expected(policy, caller, kind, 202)
                matrix.check(f"intake {path} {caller} x {kind}", response, expected)


async def _audit_cells(matrix: Matrix, client: httpx.AsyncClient) -> None:
    system = matrix.system
    audit = system.audit_url
    listing = policy_for("audit", "GET", "/v1/requests")
    history = policy_for("audit", "GET", "/v1/requests/{request_id}")
    letters = policy_for("audit", "GET", "/v1/deadletters")
    queue = policy_for("audit", "GET", "/v1/queue")
    assert queue is not None
    assert listing is not None
    assert history is not None
    assert letters is not None
    documents = {kind: body_of(kind) for kind in KINDS}
    for caller in CALLERS:
        auth = headers(system, caller)
        response = await client.get(f"{audit}/v1/requests", params={"limit": 500}, headers=auth)
        extra = None
        if response.status_code == 200:
            listed = {item["request_id"] for item in response.json()["items"]}
            wrong = [k for k, rid in matrix.world.items() if (rid in listed) != sees(caller, k)]
            extra = f"listed wrongly: {wrong}" if wrong else None
            family = await client.get(
                f"{audit}/v1/requests",
                params={"authority_family": "national_security", "limit": 500},
                headers=auth,
            )
            found = {item["request_id"] for item in family.json()["items"]}
            if (matrix.world["natsec"] in found) != sees(caller, "natsec"):
                extra = "?authority_family=national_security lists what it may not"
        matrix.check(f"audit list {caller}", response, _expected(listing, caller, None, 200), extra)

        for kind, request_id in matrix.world.items():
            response = await client.get(f"{audit}/v1/requests/{request_id}", headers=auth)
            extra = None
            if response.status_code == 200:
                extra = _personal_data_problem(caller, response.text, documents[kind])
            expected = _expected(history, caller, kind, 200)
            matrix.check(f"audit history {caller} x {kind}", response, expected, extra)

        response = await client.get(f"{audit}/v1/deadletters", headers=auth)
        matrix.check(f"audit deadletters {caller}", response, _expected(letters, caller, None, 200))

        # the queue holds open requests only (the matrix decides some): none listed may
        # be one the caller could not see (national-security process without the scope)
        response = await client.get(f"{audit}/v1/queue", params={"limit": 200}, headers=auth)
        extra = None
        if response.status_code == 200:
            listed = {item["request_id"] for item in response.json()["items"]}
            leaked = [k for k, rid in matrix.world.items() if rid in listed and not sees(caller, k)]
            extra = f"queued what it may not see: {leaked}" if leaked else None
        matrix.check(f"audit queue {caller}", response, _expected(queue, caller, None, 200), extra)

        await _leaf_cells(matrix, client, caller, auth)

        public_calls: dict[str, dict[str, Any]] = {
            "/v1/reports/transparency": PERIOD,
            "/v1/reports/transparency/chart.svg": PERIOD,
            "/v1/audit/tree-head": {},
            "/v1/audit/public-key": {},
            "/v1/log/checkpoint": {},
            "/v1/audit/proof/inclusion": {"leaf_index": 0, "tree_size": 1},
            "/v1/audit/proof/consistency": {"first": 1, "second": 1},
        }
        for path, params in public_calls.items():
            policy = policy_for("audit", "GET", path)
            assert policy is not None
            assert policy.public
            response = await client.get(f"{audit}{path}", params=params, headers=auth)
            matrix.check(f"audit {path} {caller}", response, 200)


async def _leaf_cells(
    matrix: Matrix, client: httpx.AsyncClient, caller: str, auth: dict[str, str]
) -> None:
    """A leaf's stored bytes hold the whole event, personal data included: legal staff
    only, national-security process only with the scope (404 otherwise, like its
    history), and 404 past the end. What is answered hashes to the proven leaf hash."""
    system = matrix.system
    audit = system.audit_url
    policy = policy_for("audit", "GET", "/v1/audit/leaves/{leaf_index}")
    assert policy is not None
    natsec = system.auth_as("natsec")
    size = (await client.get(f"{audit}/v1/audit/tree-head")).json()["tree_size"]
    for kind, request_id in matrix.world.items():
        history = await client.get(f"{audit}/v1/requests/{request_id}", headers=natsec)
        index = history.json()["events"][0]["leaf_index"]
        response = await client.get(f"{audit}/v1/audit/leaves/{index}", headers=auth)
        extra = None
        if response.status_code == 200:
            proof = await client.get(
                f"{audit}/v1/audit/proof/inclusion",
                params={"leaf_index": index, "tree_size": size},
            )
            computed = hashlib.sha256(b"\x00" + response.content).hexdigest()
            if computed != proof.json()["leaf_hash"]:
                extra = "the leaf's bytes do not hash to its leaf hash"
            elif response.headers["content-type"] != "application/octet-stream":
                extra = f"leaf served as {response.headers['content-type']}"
        expected = _expected(policy, caller, kind, 200)
        matrix.check(f"audit leaf {caller} x {kind}", response, expected, extra)
    past_end = await client.get(f"{audit}/v1/audit/leaves/{2**62}", headers=auth)
    expected = _expected(policy, caller, None, 404)
    matrix.check(f"audit leaf past the end {caller}", past_end, expected)


def _personal_data_problem(caller: str, text: str, document: dict[str, Any]) -> str | None:
    """Readers and auditors get no document text or contact data; others do."""
    secret_bits = [
        document["requester"]["contact_email"],
        json.dumps(document["instrument"]["document_text"])[1:40],
    ]
    shown = [bit for bit in secret_bits if bit in text]
    redacted = caller in ("reader", "auditor")
    if redacted and shown:
        return f"personal data shown to a {caller}: {shown}"
    if not redacted and len(shown) != len(secret_bits):
        return f"the history of a {caller} misses the document or contact"
    return None


async def _frame_cells(matrix: Matrix, client: httpx.AsyncClient) -> None:
    system = matrix.system
    for name, method, path, _ in _routes(system):
        policy = policy_for(name, method, path)
        if policy not in _frame_policies():
            continue
        for caller in CALLERS:
            response = await client.get(
                f"{system.services[name].url}{path}", headers=headers(system, caller)
            )
            matrix.check(f"{name} {path} {caller}", response, 200)
