"""Reading the agency registry's files (the adapter; the registry itself is pure, in
``services.classifier.domain.agencies``).

Three files, one format (``COLUMNS``), read in this order so a later row overrides an
earlier one for the same domain:

* ``dotgov.csv`` here: every registered .gov domain, derived from CISA's public
  registry (see ``SOURCE.md``; refresh with ``docket registry refresh``);
* ``seed.csv`` here: what the .gov registry cannot say: ``.mil``, foreign government
  mail namespaces (``gov.uk``, ``gouv.fr``), public free-mail services, and the names
  documents use for federal bodies (``U.S. Attorney's Office`` for the Department of
  Justice);
* the operator's file (``DOCKET_AGENCY_REGISTRY_FILE``), for foreign and non-.gov
  agencies the platform deals with.

Lines starting with ``#`` are comments; a ``# snapshot: YYYY-MM-DD`` comment names the
date of the data, which evidence quotes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from services.classifier.domain.agencies import AgencyRecord, AgencyRegistry

REGISTRY_DIR = Path(__file__).resolve().parent
DOTGOV_FILE = REGISTRY_DIR / "dotgov.csv"
SEED_FILE = REGISTRY_DIR / "seed.csv"
COLUMNS = (
    "domain",
    "type",
    "organisation",
    "suborganisation",
    "city",
    "state",
    "country",
    "aliases",
)


class RegistryError(ValueError):
    """A registry file that cannot be read: names the file and line."""


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        numbered = ((n, line) for n, line in enumerate(handle, start=1))
        content = ((n, line) for n, line in numbered if line.strip() and not line.startswith("#"))
        first = next(content, None)
        if first is None:
            return
        header = next(csv.reader([first[1]]))
        missing = [c for c in ("domain", "type", "organisation") if c not in header]
        if missing:
            raise RegistryError(f"{path}:{first[0]}: header lacks {', '.join(missing)}")
        unknown = [c for c in header if c not in COLUMNS]
        if unknown:
            raise RegistryError(
                f"{path}:{first[0]}: unknown column(s) {', '.join(unknown)} "
                f"(expected: {', '.join(COLUMNS)})"
            )
        for number, line in content:
            values = next(csv.reader([line]))
            if len(values) != len(header):
                raise RegistryError(
                    f"{path}:{number}: {len(values)} fields, the header has {len(header)}"
                )
            yield number, dict(zip(header, values, strict=True))


def read_records(path: Path) -> list[AgencyRecord]:
    records: list[AgencyRecord] = []
    for number, row in _rows(path):
        aliases = tuple(a.strip() for a in row.pop("aliases", "").split(";") if a.strip())
        fields = {k: v.strip() for k, v in row.items() if v.strip() or k != "country"}
        try:
            records.append(AgencyRecord.model_validate({**fields, "aliases": aliases}))
        except ValidationError as error:
            raise RegistryError(f"{path}:{number}: not a valid registry row: {error}") from error
    return records


def snapshot_of(path: Path) -> str:
    """The ``# snapshot:`` date a file declares, or ``""``."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            if line.startswith("# snapshot:"):
                return line.split(":", 1)[1].strip()
    return ""


@cache
def _load(extra: Path | None) -> AgencyRegistry:
    records: list[AgencyRecord] = []
    for path in (DOTGOV_FILE, SEED_FILE, *([extra] if extra is not None else [])):
        try:
            records.extend(read_records(path))
        except OSError as error:
            raise RegistryError(f"{path}: cannot read the agency registry: {error}") from error
    try:
        return AgencyRegistry(records, source=f"the .gov registry of {snapshot_of(DOTGOV_FILE)}")
    except ValueError as error:
        raise RegistryError(str(error)) from error


def load_agency_registry(extra: Path | None = None) -> AgencyRegistry:
    """The shipped registry plus the operator's file, if any (read once per process)."""
    return _load(extra.resolve() if extra is not None else None)
