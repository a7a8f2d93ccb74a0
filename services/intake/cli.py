"""``docket submit`` and ``docket status``: intake and audit over HTTP, for people."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

INTAKE_URL = os.environ.get("DOCKET_INTAKE_URL", "http://127.0.0.1:8080")
AUDIT_URL = os.environ.get("DOCKET_AUDIT_URL", "http://127.0.0.1:8083")


def submit_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="docket submit", description="Submit a request.")
    parser.add_argument("file", type=Path, help="a submission in the contract's JSON shape")
    parser.add_argument("--intake-url", default=INTAKE_URL)
    args = parser.parse_args(argv)
    response = httpx.post(
        f"{args.intake_url}/v1/requests",
        content=args.file.read_bytes(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    return _report(
        response, lambda body: f"accepted: {body['request_id']}\n  status: {body['status_url']}"
    )


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
