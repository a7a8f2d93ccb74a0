"""``docket submit|amend|decide|status`` (intake and audit over HTTP) and
``docket keys create|list|rotate|revoke`` (the API keys of intake and audit, straight in
the database, schema ``auth``), for people.

Every call authenticates with the API key in ``DOCKET_API_KEY``; ``docket keys`` uses
``DOCKET_MIGRATION_DATABASE_URL`` (the owner role), else ``DOCKET_DATABASE_URL``, on a
migrated database.
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

import asyncpg
import httpx

from shared.auth.cache import CREDENTIAL_TTL_S
from shared.auth.keys import Role, key_spec
from shared.auth.store import opened_key_store
from shared.cli import api_key_headers
from shared.events import Outcome
from shared.settings import MigrateSettings
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
    parser.add_argument("--note")
    parser.add_argument("--intake-url", default=INTAKE_URL)
    args = parser.parse_args(argv)
    body = {
        "outcome": args.outcome,
        "data_disclosed": args.data,
        "note": args.note,
    }
    return _post_change(args.intake_url, args.request_id, "decision", body, "decision")


def keys_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket keys", description="Docket's API keys.")
    configured = MigrateSettings().owner_url()
    parser.add_argument("--database-url", default=configured)
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; the secret is shown only once")
    create.add_argument("client_id", help="e.g. legal-ops, cbp-portal, on-call")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument(
        "--organisation", help="a submitter's organisation: its requests' requester.agency"
    )
    create.add_argument(
        "--national-security",
        action="store_true",
        help="the key also sees national-security process",
    )
    actions.add_parser("list", help="list keys (never their secrets)")
    rotate = actions.add_parser(
        "rotate",
        help="a new secret (and key id) for the same client and role; the old key is "
        f"revoked at once (effective within {CREDENTIAL_TTL_S:g} s)",
    )
    rotate.add_argument("key_id")
    revoke = actions.add_parser(
        "revoke", help=f"revoke a key by its id (effective within {CREDENTIAL_TTL_S:g} s)"
    )
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DOCKET_DATABASE_URL or pass --database-url")
    if args.action == "create":
        try:
            key_spec(args.client_id, args.role, args.organisation, args.national_security)
        except ValueError as error:
            parser.error(str(error))
    try:
        return asyncio.run(_keys(args))
    except asyncpg.InsufficientPrivilegeError:
        raise SystemExit(
            "docket keys: this database role may not change API keys; run it as the owner "
            "role (DOCKET_MIGRATION_DATABASE_URL)"
        ) from None


async def _keys(args: argparse.Namespace) -> int:
    async with opened_key_store(args.database_url) as store:
        if args.action == "create":
            spec = key_spec(args.client_id, args.role, args.organisation, args.national_security)
            issued = await store.create(spec)
            scope = " + national security" if spec.national_security else ""
            owner = f" for {spec.organisation}" if spec.organisation else ""
            print(f"key {issued.key_id}: {spec.client_id}, {spec.role.value}{owner}{scope}")
            print(
                "  secret (shown once, give it to the client as DOCKET_API_KEY): "
                f"{issued.secret.get_secret_value()}"
            )
            return 0
        if args.action == "list":
            for key in await store.list_keys():
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                scope = "+national_security" if key.national_security else ""
                print(
                    f"{key.key_id:<24} {key.client_id:<24} {key.role + scope:<28} "
                    f"created {key.created_at:%Y-%m-%d}  {state}  {key.organisation or ''}"
                )
            return 0
        if args.action == "rotate":
            rotated = await store.rotate(args.key_id)
            if rotated is None:
                print(f"no active key {args.key_id}", file=sys.stderr)
                return 1
            print(
                f"key {args.key_id} revoked (effective within {CREDENTIAL_TTL_S:g} s); "
                f"its replacement is {rotated.key_id}"
            )
            print(f"  secret (shown once): {rotated.secret.get_secret_value()}")
            return 0
        if await store.revoke(args.key_id):
            print(
                f"revoked {args.key_id}; running intake and audit instances stop accepting it "
                f"within {CREDENTIAL_TTL_S:g} s"
            )
            return 0
        print(f"no active key {args.key_id}", file=sys.stderr)
        return 1


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
    return {"content-type": "application/json", **api_key_headers()}


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
    response = httpx.get(
        f"{args.audit_url}/v1/requests/{args.request_id}", headers=_auth_headers(), timeout=30
    )
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
    for error in body.get("errors") or []:  # RFC 9457 field errors (docs/http.md)
        where = error.get("pointer") or error.get("parameter") or error.get("header") or "#"
        print(f"  {where}: {error.get('detail')}", file=sys.stderr)
    return 1
