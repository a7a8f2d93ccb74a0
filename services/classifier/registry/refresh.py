"""``docket registry refresh CURRENT-FULL.csv [--snapshot YYYY-MM-DD]``: rewrite
``dotgov.csv`` from a copy of CISA's ``current-full.csv`` (cisagov/dotgov-data).

Keeps each domain's type, organisation, suborganisation, city and state; drops the
security contact e-mail column (a person's address, and nothing the classifier needs).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from services.classifier.registry import COLUMNS, DOTGOV_FILE

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


def refresh_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="docket registry refresh",
        description=f"Rewrite the shipped .gov registry from a copy of {UPSTREAM}.",
    )
    parser.add_argument("source", type=Path, help="current-full.csv as downloaded")
    parser.add_argument(
        "--snapshot",
        type=date.fromisoformat,
        default=None,
        help="date of the download (default: today, UTC)",
    )
    parser.add_argument("--output", type=Path, default=DOTGOV_FILE, help="default: %(default)s")
    args = parser.parse_args(argv)
    snapshot = args.snapshot or datetime.now(UTC).date()
    try:
        with args.source.open(encoding="utf-8", newline="") as source:
            text = derive(source, snapshot)
    except (OSError, ValueError) as error:
        print(f"{args.source}: cannot refresh the registry: {error}", file=sys.stderr)
        return 2
    args.output.write_text(text, encoding="utf-8")
    domains = text.count("\n") - 3
    print(f"{args.output}: {domains} domains, snapshot {snapshot.isoformat()}")
    return 0
