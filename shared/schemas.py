"""Who may do what in Docket's PostgreSQL database: the one declarative place.

Every schema and table belongs to the owner role (the one ``docket migrate`` runs as,
which no service runs as). Each service logs in as its own role and gets exactly the
privileges listed here, nothing else: ``docket migrate`` revokes whatever is not listed.
A table of a managed schema missing from :data:`GRANTS` (and from :data:`OWNER_ONLY`)
stops ``docket migrate``, so a new table cannot ship without a decision on who uses it.

Adding a schema is one entry in :data:`SCHEMAS` and one line per role that uses it in
:data:`GRANTS`, as for ``auth`` (the API keys: written by ``docket keys`` as the owner,
read by intake and audit, intake adding its bootstrap key once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import services
import shared.auth

_SERVICES_DIR: Final = Path(next(iter(services.__path__)))
_AUTH_MIGRATIONS: Final = Path(next(iter(shared.auth.__path__))) / "migrations"

#: Schema -> its migration files, applied in this order by ``docket migrate``.
SCHEMAS: Final[Mapping[str, Path]] = {
    "intake": _SERVICES_DIR / "intake" / "migrations",
    "classifier": _SERVICES_DIR / "classifier" / "migrations",
    "notifier": _SERVICES_DIR / "notifier" / "migrations",
    "audit": _SERVICES_DIR / "audit" / "migrations",
    "auth": _AUTH_MIGRATIONS,
}

READ: Final = frozenset({"SELECT"})
APPEND: Final = frozenset({"SELECT", "INSERT"})
WRITE: Final = frozenset({"SELECT", "INSERT", "UPDATE"})
#: ``LOCK TABLE ... IN EXCLUSIVE MODE`` needs UPDATE (or DELETE, TRUNCATE, MAINTAIN).
LOCK: Final = frozenset({"UPDATE"})
NEXTVAL: Final = frozenset({"USAGE"})


@dataclass(frozen=True)
class Access:
    """A role's privileges in one schema: USAGE on the schema, and these on its objects.
    ``schema_migrations`` is readable by every role with access (the start-up check)."""

    tables: Mapping[str, frozenset[str]]
    sequences: Mapping[str, frozenset[str]] = field(default_factory=dict)


#: Service role (by service name) -> schema -> privileges. No DELETE, TRUNCATE,
#: REFERENCES or TRIGGER anywhere; audit's ``event_log`` takes INSERT and nothing more
#: (SELECT to read it back), so the append-only log cannot be rewritten by the service
#: that writes it, nor its triggers disabled (that takes ownership).
GRANTS: Final[Mapping[str, Mapping[str, Access]]] = {
    "intake": {
        "intake": Access(
            tables={
                "requests": WRITE,  # lifecycle updated under FOR UPDATE
                "idempotency_keys": APPEND,
                "changes": APPEND,
                "counsel_actions": APPEND,
            }
        ),
        # the bootstrap key, added once at start; never revived or changed
        "auth": Access(tables={"api_keys": APPEND}),
    },
    "classifier": {
        "classifier": Access(
            tables={"requests": WRITE, "amendments": APPEND, "decisions": APPEND},
            sequences={"arrival": NEXTVAL},
        )
    },
    "notifier": {"notifier": Access(tables={"requests": WRITE, "notices": WRITE})},
    "audit": {
        "audit": Access(
            tables={
                "event_log": APPEND,
                "log_writer_turn": LOCK,  # one appender at a time; the table is empty
                "consumer_positions": WRITE,
                "request_views": WRITE,  # projected on append; rebuilt by the owner
                "deadlines": WRITE,  # projected on append; reported by the scheduler
                "tree_heads": APPEND,
            }
        ),
        "auth": Access(tables={"api_keys": READ}),
    },
}

#: Tables of managed schemas that only the owner uses (none yet).
OWNER_ONLY: Final[Mapping[str, frozenset[str]]] = {}

#: The role each service logs in as is ``<prefix><service>`` (``docket_intake``, ...).
DEFAULT_ROLE_PREFIX: Final = "docket_"


def role_name(service: str, prefix: str = DEFAULT_ROLE_PREFIX) -> str:
    return f"{prefix}{service}"


def unlisted_tables(schema: str, tables: set[str]) -> list[str]:
    """The tables of ``schema`` no role's entry and no owner-only entry names."""
    listed = set(OWNER_ONLY.get(schema, frozenset())) | {"schema_migrations"}
    for schemas in GRANTS.values():
        if schema in schemas:
            listed |= set(schemas[schema].tables)
    return sorted(tables - listed)
