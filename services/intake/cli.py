"""``docket submit|amend|decide|status`` (intake and audit over HTTP) and
``docket keys create|list|revoke`` (intake's API keys, straight in the database), for people.

Writes authenticate with the API key in ``DOCKET_API_KEY``; ``docket keys`` uses
``DOCKET_DATABASE_URL`` with intake's role (or the owner's), on a migrated schema.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx

from services.intake.credentials import CREDENTIAL_TTL_S
from services.intake.domain.keys import check_client_id, new_key_id, new_secret, parse_scopes
from services.intake.store import IntakeStore
from shared.db import Database, SchemaNotReady, Target, create_pool, require_migrated
from shared.events import Outcome
from shared.schemas import SCHEMAS
from shared.settings import IntakeSettings
from shared.submission import DataCategory

INTAKE_URL = os.environ.get("DOCKET_INTAKE_URL", "http://127.0.0.1:8080")
AUDIT_URL = os.environ.get("DOCKET_AUDIT_URL", "http://127.0.0.1:8083")


def submit_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket submit", description="Submit a request.")
    parser.add_argument("file", type=Path, help="a submission in the contract's JSON shape")
    parser.add_argument("--idempotency-key", help="answer the same request_id on a retry")
    parser.add_argument("--intake-url", default=INTAKE_URL)
    args = parser.parse_args(argv)
    headers = _auth_headers()
    if args.idempotency_key:
        headers["idempotency-key"] = args.idempotency_key
    response = httpx.post(
        f"{args.intake_url}/v1/requests",
        content=args.file.read_bytes(),
        headers=headers,
        timeout=30,
    )
    return _report(
        response, lambda body: f"accepted: {body['request_id']}\n  status: {body['status_url']}"
    )


def amend_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket amend", description="Amend a request.")
    parser.add_argument("request_id")
    change = parser.add_mutually_exclusive_group(required=True)
    change.add_argument(
        "--nondisclosure-until",
        type=_moment,
        metavar="DATE",
        help="a new or extended non-disclosure order, in force until DATE (ISO 8601)",
    )
    change.add_argument("--lift-nondisclosure", action="store_true", help="the order is lifted")
    change.add_argument("--withdraw", action="store_true", help="the requester withdrew it")
    parser.add_argument("--authority", help="what orders the non-disclosure (with --until)")
    parser.add_argument("--note")
    parser.add_argument(
        "--effective-at", type=_moment, metavar="WHEN", help="default: now (ISO 8601)"
    )
    parser.add_argument("--intake-url", default=INTAKE_URL)
    args = parser.parse_args(argv)
    nondisclosure: dict[str, Any] | None = None
    if args.nondisclosure_until is not None:
        nondisclosure = {
            "ordered": True,
            "authority": args.authority,
            "expires_at": args.nondisclosure_until.isoformat(),
        }
    elif args.lift_nondisclosure:
        nondisclosure = {"ordered": False}
    body = {
        "nondisclosure": nondisclosure,
        "withdrawn": bool(args.withdraw),
        "note": args.note,
        "effective_at": (args.effective_at or datetime.now(UTC)).isoformat(),
    }
    return _post_change(args.intake_url, args.request_id, "amendments", body, "amendment")


def decide_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket decide", description="Record the outcome.")
    parser.add_argument("request_id")
    parser.add_argument("--outcome", required=True, choices=[outcome.value for outcome in Outcome])
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        choices=[category.value for category in DataCategory],
        help="a data category disclosed (repeat for several)",
    )
    parser.add_argument("--decided-by", required=True, help="who decided (name or role)")
    parser.add_argument("--note")
    parser.add_argument("--intake-url", default=INTAKE_URL)
    args = parser.parse_args(argv)
    body = {
        "outcome": args.outcome,
        "data_disclosed": args.data,
        "decided_by": args.decided_by,
        "note": args.note,
    }
    return _post_change(args.intake_url, args.request_id, "decision", body, "decision")


def keys_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket keys", description="Intake's API keys.")
    configured = IntakeSettings().database_url
    parser.add_argument(
        "--database-url", default=configured.get_secret_value() if configured else None
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; the secret is shown only once")
    create.add_argument("client_id", help="e.g. legal-ops, cbp-portal, docket-automation")
    create.add_argument("--scopes", required=True, help="comma-separated: submit,amend,decide")
    actions.add_parser("list", help="list keys (never their secrets)")
    revoke = actions.add_parser(
        "revoke", help=f"revoke a key by its id (effective within {CREDENTIAL_TTL_S:g} s)"
    )
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DOCKET_DATABASE_URL or pass --database-url")
    try:
        if args.action == "create":
            check_client_id(args.client_id)
            parse_scopes(args.scopes)
    except ValueError as error:
        parser.error(str(error))
    return asyncio.run(_keys(args))


async def _keys(args: argparse.Namespace) -> int:
    settings = IntakeSettings()
    target = Target.of(args.database_url, settings.database_sslmode, settings.database_sslrootcert)
    pool = await create_pool(target, schema="intake")
    try:
        async with pool.acquire() as conn:
            try:
                await require_migrated(conn, "intake", SCHEMAS["intake"])
            except SchemaNotReady as error:
                raise SystemExit(f"docket keys: {error}") from None
        store = IntakeStore(Database.of(pool))
        if args.action == "create":
            key_id, secret = new_key_id(), new_secret()
            scopes = parse_scopes(args.scopes)
            await store.put_key(key_id, check_client_id(args.client_id), scopes, secret)
            print(f"key {key_id} for {args.client_id} ({', '.join(sorted(scopes))})")
            print(f"  secret (shown once, give it to the client as DOCKET_API_KEY): {secret}")
            return 0
        if args.action == "list":
            for key in await store.list_keys():
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                print(
                    f"{key.key_id:<24} {key.client_id:<24} {','.join(key.scopes):<20} "
                    f"created {key.created_at:%Y-%m-%d}  {state}"
                )
            return 0
        if await store.revoke_key(args.key_id):
            print(
                f"revoked {args.key_id}; running intake instances stop accepting it within "
                f"{CREDENTIAL_TTL_S:g} s"
            )
            return 0
        print(f"no active key {args.key_id}", file=sys.stderr)
        return 1
    finally:
        await pool.close()


def _moment(text: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date-time (UTC when no offset is given)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or date-time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _auth_headers() -> dict[str, str]:
    headers = {"content-type": "application/json"}
    key = os.environ.get("DOCKET_API_KEY")
    if key:
        headers["authorization"] = f"Bearer {key}"
    return headers


def _post_change(
    intake_url: str, request_id: str, path: str, body: dict[str, Any], what: str
) -> int:
    response = httpx.post(
        f"{intake_url}/v1/requests/{request_id}/{path}",
        json=body,
        headers=_auth_headers(),
        timeout=30,
    )

    def describe(answer: dict[str, Any]) -> str:
        return f"{what} recorded for {answer['request_id']}: event {answer['event_id']}"

    return _report(response, describe)


def status_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket status", description="A request's history.")
    parser.add_argument("request_id")
    parser.add_argument("--audit-url", default=AUDIT_URL)
    parser.add_argument("--json", action="store_true", help="print the raw JSON")
    args = parser.parse_args(argv)
    response = httpx.get(f"{args.audit_url}/v1/requests/{args.request_id}", timeout=30)
    if args.json:
        print(json.dumps(response.json(), indent=2))
        return 0 if response.status_code == 200 else 1
    return _report(response, _history_text)


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


def _report(response: httpx.Response, describe: Any) -> int:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text}
    if response.is_success:
        print(describe(body))
        return 0
    print(f"error {response.status_code}: {body.get('detail') or body}", file=sys.stderr)
    for error in body.get("errors", []):
        print(f"  {error['path']}: {error['message']}", file=sys.stderr)
    return 1
