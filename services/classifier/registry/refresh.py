"""``docket registry refresh CURRENT-FULL.csv [--snapshot YYYY-MM-DD]``: rewrite
``dotgov.csv`` from a copy of CISA's ``current-full.csv`` (cisagov/dotgov-data).

Keeps each domain's type, organisation, suborganisation, city and state; drops the
security contact e-mail column (a person's address, and nothing the classifier needs).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from services.classifier.registry import COLUMNS, DOTGOV_FILE
from shared.cli_support import ExitCode, JsonFlag, fail, parse_moment, print_json, read_text

UPSTREAM = "https://github.com/cisagov/dotgov-data/blob/main/current-full.csv"
#: column of current-full.csv -> column of dotgov.csv
SOURCE_COLUMNS = {
    "Domain name": "domain",
    "Domain type": "type",
    "Organization name": "organisation",
    "Suborganization name": "suborganisation",
    "City": "city",
    "State": "state",
}


def derive(source: Iterable[str], snapshot: date) -> str:
    """The text of ``dotgov.csv`` for the rows of ``current-full.csv`` in ``source``."""
    reader = csv.DictReader(source)
    missing = [c for c in SOURCE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"not a current-full.csv: no column(s) {', '.join(missing)}")
    out = io.StringIO()
    out.write(f"# Derived from {UPSTREAM} (CC0 1.0); see SOURCE.md.\n")
    out.write(f"# snapshot: {snapshot.isoformat()}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = []
    for row in reader:
        domain = (row["Domain name"] or "").strip().casefold()
        if not domain:
            continue
        values = {ours: (row[theirs] or "").strip() for theirs, ours in SOURCE_COLUMNS.items()}
        values["domain"] = domain
        values["country"] = "US"
        rows.append([values.get(column, "") for column in COLUMNS])
    writer.writerows(sorted(rows))
    return out.getvalue()


def refresh(
    source: Annotated[
        Path,
        typer.Argument(help="current-full.csv as downloaded (- reads stdin)", metavar="CSV"),
    ],
    snapshot: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_moment, metavar="DATE", help="date of the download (default: today, UTC)"
        ),
    ] = None,
    output: Annotated[Path, typer.Option(help="the registry file to write")] = DOTGOV_FILE,
    json_output: JsonFlag = False,
) -> None:
    """Rewrite the shipped .gov registry (dotgov.csv) from a copy of CISA's
    current-full.csv (cisagov/dotgov-data, CC0), dropping the security contact column;
    SOURCE.md says where it comes from and when."""
    day = (snapshot or datetime.now(UTC)).date()
    try:
        text = derive(io.StringIO(read_text(source), newline=""), day)
    except ValueError as error:
        fail(ExitCode.INPUT, f"{source}: cannot refresh the registry: {error}")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(ExitCode.INPUT, f"cannot write {output}: {error.strerror or error}")
    domains = text.count("\n") - 3
    if json_output:
        print_json({"output": str(output), "domains": domains, "snapshot": day.isoformat()})
    else:
        print(f"{output}: {domains} domains, snapshot {day.isoformat()}")
