"""``docket audit export|verify|rebuild`` and ``docket report``.

``export``, ``verify`` and ``report`` only read: they run with the audit service's role
(its ``DOCKET_DATABASE_URL``, or ``--database-url``). ``rebuild`` deletes and rewrites
the request views, which the service's role may not do: it runs as the owner role
(``DOCKET_MIGRATION_DATABASE_URL``). ``verify`` also reads an export file instead, and
takes the public key from a PEM file or from the audit service's ``/v1/audit/public-key``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.audit.app import MIGRATIONS, SCHEMA
from services.audit.chart import requests_chart_svg
from services.audit.domain.transparency import (
    MonthGroup,
    ReportCounts,
    period_problems,
    report_csv,
    requests_by_month,
    transparency_report,
)
from services.audit.domain.verification import Leaf, LogVerifier, VerificationReport
from services.audit.export import (
    ExportError,
    head_line,
    header_line,
    leaf_line,
    read_heads,
    read_leaves,
)
from services.audit.store import AuditStore
from shared.db import Database, SchemaNotReady, Target, create_pool, require_migrated
from shared.settings import AuditSettings, MigrateSettings


def export_command(argv: list[str]) -> int:
    parser = _parser("docket audit export", "Write the audit log and its tree heads.")
    parser.add_argument("file", type=Path, help="the JSON Lines file to write")
    args = parser.parse_args(argv)
    count = asyncio.run(_export(args.database_url, args.file))
    print(f"exported {count} leaves to {args.file}")
    return 0


def verify_command(argv: list[str]) -> int:
    parser = _parser("docket audit verify", "Verify the audit log offline.")
    parser.add_argument("file", type=Path, nargs="?", help="an export (default: the database)")
    parser.add_argument("--public-key", type=Path, help="the signing key's public PEM")
    parser.add_argument("--audit-url", help="fetch the public key from this audit service")
    args = parser.parse_args(argv)
    try:
        key = _public_key(args.public_key, args.audit_url)
        if args.file is not None:
            verifier = LogVerifier()
            for leaf in read_leaves(args.file):
                verifier.add(leaf)
            report = verifier.finish(read_heads(args.file), key)
        else:
            report = asyncio.run(_verify_database(args.database_url, key))
    except (ExportError, ValueError, OSError, httpx.HTTPError) as error:
        print(f"cannot verify: {error}", file=sys.stderr)
        return 2
    print(_report_text(report))
    return 0 if report.ok else 1


def rebuild_command(argv: list[str]) -> int:
    parser = _parser(
        "docket audit rebuild",
        "Rebuild the request views from the log (as the owner role).",
        MigrateSettings().owner_url(),
    )
    args = parser.parse_args(argv)
    try:
        count = asyncio.run(_rebuild(args.database_url))
    except asyncpg.InsufficientPrivilegeError as error:
        print(
            f"cannot rebuild: {error}; the rebuild runs as the owner role"
            " (DOCKET_MIGRATION_DATABASE_URL), not the audit service's",
            file=sys.stderr,
        )
        return 2
    print(f"rebuilt {count} request views")
    return 0


def report_command(argv: list[str]) -> int:
    parser = _parser("docket report", "The transparency report for [from, to).")
    parser.add_argument("--from", dest="start", required=True, type=_moment)
    parser.add_argument("--to", dest="end", required=True, type=_moment)
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    parser.add_argument("--chart", type=Path, help="also write the SVG chart here")
    args = parser.parse_args(argv)
    for field, message in period_problems(args.start, args.end):
        parser.error(f"--{field}: {message}")
    counts, months = asyncio.run(_counts(args.database_url, args.start, args.end))
    band = AuditSettings().national_security_band
    report = transparency_report(counts, args.start, args.end, band)
    print(report_csv(report) if args.format == "csv" else report.model_dump_json(indent=2))
    if args.chart:
        series = requests_by_month(months, args.start, args.end)
        args.chart.write_text(requests_chart_svg(series, "Requests by authority family"))
    return 0


def _parser(prog: str, description: str, default_url: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if default_url is None:
        configured = AuditSettings().database_url
        default_url = configured.get_secret_value() if configured else None
    parser.add_argument("--database-url", default=default_url)
    return parser


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _public_key(path: Path | None, audit_url: str | None) -> Ed25519PublicKey:
    if path is not None:
        pem = path.read_bytes()
    elif audit_url:
        response = httpx.get(f"{audit_url}/v1/audit/public-key", timeout=30)
        response.raise_for_status()
        pem = response.json()["public_key_pem"].encode()
    else:
        raise ValueError("give --public-key FILE.pem or --audit-url URL")
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def _report_text(report: VerificationReport) -> str:
    lines = [f"{report.leaves} leaves, {report.heads} signed tree heads"]
    lines += [f"  FAIL {problem}" for problem in report.problems]
    if report.first_bad_leaf is not None:
        lines.append(f"first bad leaf: {report.first_bad_leaf}")
    elif report.bad_leaf_range is not None:
        start, end = report.bad_leaf_range
        lines.append(f"a leaf in [{start}, {end}) was altered (hashes rewritten to match)")
    lines.append("OK: the log matches every signed tree head" if report.ok else "FAILED")
    return "\n".join(lines)


@asynccontextmanager
async def _store(database_url: str | None) -> AsyncIterator[AuditStore]:
    if not database_url:
        raise SystemExit("DOCKET_DATABASE_URL (or --database-url) is required")
    settings = AuditSettings()
    target = Target.of(database_url, settings.database_sslmode, settings.database_sslrootcert)
    pool = await create_pool(target, schema=SCHEMA)
    try:
        async with pool.acquire() as conn:
            try:
                await require_migrated(conn, SCHEMA, MIGRATIONS)
            except SchemaNotReady as error:
                raise SystemExit(f"docket audit: {error}") from None
        store = AuditStore(Database.of(pool))
        yield store
    finally:
        await pool.close()


async def _export(database_url: str | None, path: Path) -> int:
    count = 0
    async with _store(database_url) as store:
        heads = await store.tree_heads()  # before the leaves: every head fits in them
        with path.open("w", encoding="utf-8") as file:
            file.write(header_line())
            file.writelines(head_line(head) for head in heads)
            async for index, data, stored in store.leaves():
                file.write(leaf_line(index, data, stored))
                count += 1
    return count


async def _verify_database(database_url: str | None, key: Ed25519PublicKey) -> VerificationReport:
    async with _store(database_url) as store:
        heads = await store.tree_heads()
        verifier = LogVerifier()
        async for index, data, stored in store.leaves():
            verifier.add(Leaf(index, data, stored))
        return verifier.finish(heads, key)


async def _rebuild(database_url: str | None) -> int:
    async with _store(database_url) as store:
        return await store.rebuild_views()


async def _counts(
    database_url: str | None, start: datetime, end: datetime
) -> tuple[ReportCounts, list[MonthGroup]]:
    async with _store(database_url) as store:
        return await store.report_counts(start, end), await store.month_counts(start, end)
