"""``docket audit export|verify|rebuild`` and ``docket report``.

``export``, ``verify`` and ``report`` only read: they run with the audit service's role
(its ``DOCKET_DATABASE_URL``, or ``--database-url``). ``rebuild`` deletes and rewrites
the request views, which the service's role may not do: it runs as the owner role
(``DOCKET_MIGRATION_DATABASE_URL``). ``verify`` also reads an export file instead, and
takes the public key from a PEM file or from the audit service's ``/v1/audit/public-key``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
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
from shared import cli_http
from shared.cli_support import (
    STDIN,
    ExitCode,
    JsonFlag,
    OwnerDatabaseUrl,
    fail,
    note,
    parse_moment,
    print_json,
    read_bytes,
    readable_file,
    run_database,
)
from shared.db import Database, Target, create_pool, require_migrated
from shared.settings import AuditSettings, MigrateSettings

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="the audit service's database URL (default: $DOCKET_DATABASE_URL)",
        show_default=False,
    ),
]


def export(
    file: Annotated[
        Path, typer.Argument(help="the JSON Lines file to write (- writes stdout)", metavar="FILE")
    ],
    database_url: DatabaseUrl = None,
    json_output: JsonFlag = False,
) -> None:
    """Write the audit log (every leaf) and its signed tree heads to FILE, for `docket
    audit verify FILE` anywhere. With - the log goes to stdout and the summary to
    stderr."""
    url = database_url or _audit_url()
    if str(file) == STDIN:
        count = run_database(_export(url, sys.stdout))
    else:
        try:
            with file.open("w", encoding="utf-8") as out:
                count = run_database(_export(url, out))
        except OSError as error:
            fail(ExitCode.INPUT, f"cannot write {file}: {error.strerror or error}")
    summary = {"leaves": count, "file": str(file)}
    if str(file) == STDIN:
        note(f"exported {count} leaves to stdout")
    elif json_output:
        print_json(summary)
    else:
        print(f"exported {count} leaves to {file}")


def verify(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="an export (- reads stdin; default: the database)",
            metavar="[FILE]",
            show_default=False,
        ),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="the signing key's public PEM", metavar="FILE.pem")
    ] = None,
    audit_url: Annotated[
        str | None,
        typer.Option(help="fetch the public key from this audit service", metavar="URL"),
    ] = None,
    database_url: DatabaseUrl = None,
    json_output: JsonFlag = False,
) -> None:
    """Verify the audit log offline: every tree head's signature, every leaf's hash, and
    the consistency of consecutive tree heads. Exit 1 when anything fails."""
    key = _public_key(public_key, audit_url)
    if file is not None:
        with readable_file(file) as readable:
            try:
                verifier = LogVerifier()
                for leaf in read_leaves(readable):
                    verifier.add(leaf)
                report = verifier.finish(read_heads(readable), key)
            except (ExportError, ValueError) as error:
                fail(ExitCode.INPUT, f"cannot verify {file}: {error}")
    else:
        report = run_database(_verify_database(database_url or _audit_url(), key))
    if json_output:
        print_json(
            {
                "ok": report.ok,
                "leaves": report.leaves,
                "heads": report.heads,
                "problems": list(report.problems),
                "first_bad_leaf": report.first_bad_leaf,
                "bad_leaf_range": list(report.bad_leaf_range) if report.bad_leaf_range else None,
            }
        )
    else:
        print(_report_text(report))
    if not report.ok:
        raise typer.Exit(int(ExitCode.FAILED))


def rebuild(database_url: OwnerDatabaseUrl = None, json_output: JsonFlag = False) -> None:
    """Rebuild the request views from the log. It deletes and rewrites them, which the
    audit service's role may not do: it runs as the owner role."""
    url = database_url or MigrateSettings().owner_url()
    count = run_database(
        _rebuild(url),
        privilege_hint="the rebuild runs as the owner role (DOCKET_MIGRATION_DATABASE_URL),"
        " not the audit service's",
    )
    if json_output:
        print_json({"rebuilt_views": count})
    else:
        print(f"rebuilt {count} request views")


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


def report(
    start: Annotated[
        datetime,
        typer.Option("--from", parser=parse_moment, metavar="DATE", help="first day, ISO 8601"),
    ],
    end: Annotated[
        datetime,
        typer.Option("--to", parser=parse_moment, metavar="DATE", help="day after the last"),
    ],
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="json or csv")
    ] = ReportFormat.json,
    chart: Annotated[
        Path | None, typer.Option(help="also write the SVG chart here", metavar="FILE.svg")
    ] = None,
    database_url: DatabaseUrl = None,
    json_output: Annotated[bool, typer.Option("--json", help="the same as --format json")] = False,
) -> None:
    """The transparency report for [--from, --to): from 2000-01-01 on, a hundred years at
    most; national-security process only in bands."""
    for field, message in period_problems(start, end):
        fail(ExitCode.USAGE, f"--{field}: {message}")
    if json_output and output_format is ReportFormat.csv:
        fail(ExitCode.USAGE, "--json and --format csv contradict each other")
    counts, months = run_database(_counts(database_url or _audit_url(), start, end))
    band = AuditSettings().national_security_band
    transparency = transparency_report(counts, start, end, band)
    if output_format is ReportFormat.csv:
        print(report_csv(transparency), end="")
    else:
        print(transparency.model_dump_json(indent=2))
    if chart:
        series = requests_by_month(months, start, end)
        try:
            chart.write_text(requests_chart_svg(series, "Requests by authority family"))
        except OSError as error:
            fail(ExitCode.INPUT, f"cannot write {chart}: {error.strerror or error}")


def _audit_url() -> str | None:
    configured = AuditSettings().database_url
    return configured.get_secret_value() if configured else None


def _public_key(path: Path | None, audit_url: str | None) -> Ed25519PublicKey:
    if path is not None:
        pem, source = read_bytes(path), str(path)
    elif audit_url:
        source = cli_http.url(audit_url, "/v1/audit/public-key")
        pem = str(cli_http.get(source, service="audit").get("public_key_pem", "")).encode()
    else:
        fail(ExitCode.USAGE, "give --public-key FILE.pem or --audit-url URL")
    try:
        key = load_pem_public_key(pem)
    except ValueError as error:
        fail(ExitCode.INPUT, f"{source}: not a PEM public key ({error})")
    if not isinstance(key, Ed25519PublicKey):
        fail(ExitCode.INPUT, f"{source}: the public key is not an Ed25519 key")
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
        fail(ExitCode.CONFIG, "set DOCKET_DATABASE_URL or pass --database-url")
    settings = AuditSettings()
    target = Target.of(database_url, settings.database_sslmode, settings.database_sslrootcert)
    pool = await create_pool(target, schema=SCHEMA)
    try:
        async with pool.acquire() as conn:
            await require_migrated(conn, SCHEMA, MIGRATIONS)
        store = AuditStore(Database.of(pool))
        yield store
    finally:
        await pool.close()


async def _export(database_url: str | None, out: TextIO) -> int:
    count = 0
    async with _store(database_url) as store:
        heads = await store.tree_heads()  # before the leaves: every head fits in them
        out.write(header_line())
        out.writelines(head_line(head) for head in heads)
        async for index, data, stored in store.leaves():
            out.write(leaf_line(index, data, stored))
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
