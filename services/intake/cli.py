"""``docket submit|amend|decide|status`` (intake and audit over HTTP) and
``docket keys create|list|rotate|revoke`` (the API keys of intake and audit, straight in
the database, schema ``auth``), for people.

Every call authenticates with the API key in ``DOCKET_API_KEY``; ``docket keys`` uses
``DOCKET_MIGRATION_DATABASE_URL`` (the owner role), else ``DOCKET_DATABASE_URL``, on a
migrated database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from shared import cli_http
from shared.auth.cache import CREDENTIAL_TTL_S
from shared.auth.keys import Role, key_spec
from shared.auth.store import KeyStore, opened_key_store
from shared.cli_http import AUDIT_URL, INTAKE_URL, AuditUrl, IntakeUrl
from shared.cli_support import (
    ExitCode,
    JsonFlag,
    OwnerDatabaseUrl,
    fail,
    parse_moment,
    print_json,
    read_bytes,
    run_database,
)
from shared.events import Outcome
from shared.settings import MigrateSettings
from shared.submission import DataCategory

RequestId = Annotated[str, typer.Argument(help="the request's id", metavar="REQUEST_ID")]

# --- intake and audit over HTTP -------------------------------------------------------


def submit(
    file: Annotated[
        Path,
        typer.Argument(
            help="a submission in the contract's JSON shape (- reads stdin)", metavar="FILE"
        ),
    ],
    idempotency_key: Annotated[
        str | None, typer.Option(help="answer the same request_id on a retry")
    ] = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Submit a request to intake (DOCKET_API_KEY); prints its id and status URL."""
    headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
    body = cli_http.post(
        cli_http.url(intake_url, "/v1/requests"),
        service="intake",
        body=read_bytes(file),
        headers=headers,
    )
    if json_output:
        print_json(body)
    else:
        print(f"accepted: {body['request_id']}\n  status: {body['status_url']}")


def amend(
    request_id: RequestId,
    nondisclosure_until: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_moment,
            metavar="DATE",
            help="a new or extended non-disclosure order, in force until DATE (ISO 8601)",
        ),
    ] = None,
    lift_nondisclosure: Annotated[
        bool, typer.Option("--lift-nondisclosure", help="the order is lifted")
    ] = False,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="the requester withdrew it")] = False,
    authority: Annotated[
        str | None, typer.Option(help="what orders the non-disclosure (with --until)")
    ] = None,
    note: Annotated[str | None, typer.Option(help="a note kept with the amendment")] = None,
    effective_at: Annotated[
        datetime | None,
        typer.Option(parser=parse_moment, metavar="WHEN", help="default: now (ISO 8601)"),
    ] = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Amend a request: exactly one of --nondisclosure-until, --lift-nondisclosure,
    --withdraw."""
    chosen = [nondisclosure_until is not None, lift_nondisclosure, withdraw]
    if sum(chosen) != 1:
        fail(
            ExitCode.USAGE,
            "give exactly one of --nondisclosure-until, --lift-nondisclosure, --withdraw",
        )
    nondisclosure: dict[str, Any] | None = None
    if nondisclosure_until is not None:
        nondisclosure = {
            "ordered": True,
            "authority": authority,
            "expires_at": nondisclosure_until.isoformat(),
        }
    elif lift_nondisclosure:
        nondisclosure = {"ordered": False}
    body = {
        "nondisclosure": nondisclosure,
        "withdrawn": withdraw,
        "note": note,
        "effective_at": (effective_at or datetime.now(UTC)).isoformat(),
    }
    _post_change(intake_url, request_id, "amendments", body, "amendment", json_output)


def decide(
    request_id: RequestId,
    outcome: Annotated[Outcome, typer.Option(help="what was done with the request")],
    data: Annotated[
        list[DataCategory] | None,
        typer.Option(metavar="CATEGORY", help="a data category disclosed (repeat for several)"),
    ] = None,
    note: Annotated[str | None, typer.Option(help="a note kept with the decision")] = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Record a request's outcome (the decision is recorded as the key's client)."""
    body = {
        "outcome": outcome.value,
        "data_disclosed": [category.value for category in data or []],
        "note": note,
    }
    _post_change(intake_url, request_id, "decision", body, "decision", json_output)


def _post_change(
    intake_url: str,
    request_id: str,
    path: str,
    body: dict[str, Any],
    what: str,
    json_output: bool,
) -> None:
    answer = cli_http.post(
        cli_http.url(intake_url, f"/v1/requests/{request_id}/{path}"),
        service="intake",
        document=body,
        not_found=f"unknown request {request_id}",
    )
    if json_output:
        print_json(answer)
    else:
        print(f"{what} recorded for {answer['request_id']}: event {answer['event_id']}")


def status(
    request_id: RequestId,
    audit_url: AuditUrl = AUDIT_URL,
    json_output: Annotated[
        bool, typer.Option("--json", help="print audit's answer as JSON")
    ] = False,
) -> None:
    """A request's history, from audit (DOCKET_API_KEY): its state, classification,
    notices and every event audit stored."""
    history = cli_http.get(
        cli_http.url(audit_url, f"/v1/requests/{request_id}"),
        service="audit",
        not_found=f"unknown request {request_id}",
    )
    if json_output:
        print_json(history)
    else:
        print(_history_text(history))


def _history_text(body: dict[str, Any]) -> str:
    classification = body.get("classification") or {}
    authority = classification.get("authority") or {}
    risk = classification.get("risk") or {}
    lines = [
        f"request {body['request_id']}: {body['state']}",
        f"  authority: {authority.get('code', '-')} ({authority.get('family', '-')})",
        f"  risk:      {risk.get('level', '-')}",
        f"  action:    {classification.get('recommended_action', '-')}",
    ]
    for notice in body.get("notifications", []):
        target = notice["target"].get("handle") or notice["target"].get("platform_user_id")
        lines.append(f"  notice:    {target} {notice['decision']} ({notice['reason']})")
    lines.append("  events:")
    for event in body.get("events", []):
        lines.append(f"    #{event['leaf_index']:<6} {event['occurred_at']}  {event['type']}")
    return "\n".join(lines)


# --- docket keys -----------------------------------------------------------------------

KeyId = Annotated[str, typer.Argument(help="the key's id (k_...)", metavar="KEY_ID")]


def keys_create(
    client_id: Annotated[
        str, typer.Argument(help="e.g. legal-ops, cbp-portal, on-call", metavar="CLIENT_ID")
    ],
    role: Annotated[Role, typer.Option(help="what the key may reach (README, Access)")],
    organisation: Annotated[
        str | None, typer.Option(help="a submitter's organisation: its requests' requester.agency")
    ] = None,
    national_security: Annotated[
        bool,
        typer.Option("--national-security", help="the key also sees national-security process"),
    ] = False,
    delegates: Annotated[
        bool,
        typer.Option(
            "--delegates",
            help="the web console's key: acts only for a signed-in person, in their role"
            " (never above the key's own; docs/console.md)",
        ),
    ] = False,
    database_url: OwnerDatabaseUrl = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an API key; its secret is shown only once."""
    try:
        spec = key_spec(client_id, role.value, organisation, national_security, delegates)
    except ValueError as error:
        fail(ExitCode.USAGE, str(error))

    async def create(store: KeyStore) -> None:
        issued = await store.create(spec)
        secret = issued.secret.get_secret_value()
        if json_output:
            print_json(
                {
                    "key_id": issued.key_id,
                    "client_id": spec.client_id,
                    "role": spec.role.value,
                    "organisation": spec.organisation,
                    "national_security": spec.national_security,
                    "delegates": spec.delegates,
                    "secret": secret,
                }
            )
            return
        scope = " + national security" if spec.national_security else ""
        scope += " (acts for signed-in people)" if spec.delegates else ""
        owner = f" for {spec.organisation}" if spec.organisation else ""
        print(f"key {issued.key_id}: {spec.client_id}, {spec.role.value}{owner}{scope}")
        print(f"  secret (shown once, give it to the client as DOCKET_API_KEY): {secret}")

    _with_keys(database_url, create)


def keys_list(database_url: OwnerDatabaseUrl = None, json_output: JsonFlag = False) -> None:
    """List the API keys (never their secrets), revoked ones too."""

    async def listing(store: KeyStore) -> None:
        keys = await store.list_keys()
        if json_output:
            print_json(
                [
                    {
                        "key_id": key.key_id,
                        "client_id": key.client_id,
                        "role": key.role,
                        "national_security": key.national_security,
                        "organisation": key.organisation,
                        "delegates": key.delegates,
                        "created_at": key.created_at.isoformat(),
                        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                    }
                    for key in keys
                ]
            )
            return
        for key in keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            scope = "+national_security" if key.national_security else ""
            scope += "+delegates" if key.delegates else ""
            print(
                f"{key.key_id:<24} {key.client_id:<24} {key.role + scope:<28} "
                f"created {key.created_at:%Y-%m-%d}  {state}  {key.organisation or ''}"
            )

    _with_keys(database_url, listing)


def keys_rotate(
    key_id: KeyId, database_url: OwnerDatabaseUrl = None, json_output: JsonFlag = False
) -> None:
    """A new key (id and secret) for the same client and role; the old one is revoked at
    once (effective within the key cache's lifetime, 5 s). Exit 1: no active key of that
    id."""

    async def rotate(store: KeyStore) -> None:
        rotated = await store.rotate(key_id)
        if rotated is None:
            fail(ExitCode.FAILED, f"no active key {key_id}")
        secret = rotated.secret.get_secret_value()
        if json_output:
            print_json({"revoked": key_id, "key_id": rotated.key_id, "secret": secret})
            return
        print(
            f"key {key_id} revoked (effective within {CREDENTIAL_TTL_S:g} s); "
            f"its replacement is {rotated.key_id}"
        )
        print(f"  secret (shown once): {secret}")

    _with_keys(database_url, rotate)


def keys_revoke(
    key_id: KeyId, database_url: OwnerDatabaseUrl = None, json_output: JsonFlag = False
) -> None:
    """Revoke a key by its id; running intake and audit instances stop accepting it
    within the key cache's lifetime (5 s). Exit 1: no active key of that id."""

    async def revoke(store: KeyStore) -> None:
        if not await store.revoke(key_id):
            fail(ExitCode.FAILED, f"no active key {key_id}")
        if json_output:
            print_json({"revoked": key_id})
            return
        print(
            f"revoked {key_id}; running intake and audit instances stop accepting it "
            f"within {CREDENTIAL_TTL_S:g} s"
        )

    _with_keys(database_url, revoke)


def _with_keys(database_url: str | None, work: Callable[[KeyStore], Awaitable[None]]) -> None:
    """``work(store)`` on the key store of ``database_url`` (default: the owner's)."""
    url = database_url or MigrateSettings().owner_url()
    if not url:
        fail(
            ExitCode.CONFIG,
            "set DOCKET_MIGRATION_DATABASE_URL (the owner role) or pass --database-url",
        )

    async def run() -> None:
        async with opened_key_store(url) as store:
            await work(store)

    try:
        run_database(
            run(),
            "the key store",
            privilege_hint="this database role may not change API keys; run it as the owner"
            " role (DOCKET_MIGRATION_DATABASE_URL)",
        )
    except SystemExit as error:  # opened_key_store's "schema not migrated"
        if not isinstance(error.code, str):
            raise
        fail(ExitCode.REJECTED, error.code.removeprefix("docket keys: "))
