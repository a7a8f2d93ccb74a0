"""Who may call what: one table for every route of every Docket HTTP service. Pure.

Each route (method and path template) is either public (no credential) or lists the
roles allowed and how far each reaches:

- ``OWN_ORGANISATION``: only requests whose ``requester.agency`` is the key's
  organisation (a submitter);
- ``ANY``: every request;
- ``ANY_WITHOUT_PERSONAL_DATA``: every request, with document text, contact data and
  other free text about people removed from what is answered.

Two rules hold on every route that touches requests, whatever the table says:
national-security process (:func:`is_national_security`) exists only for keys with the
national-security scope, absent from lists and counts and ``404`` by id for everyone
else; and a request the caller may not see answers ``404``, never ``403``.

The authorising dependency (``shared.auth.guard``) reads this table on every call, and
``tests/security`` enumerates every route of every service against it: a route with no
entry fails CI, and every cell of the role x route matrix is exercised live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.auth.keys import Principal, Role

NATIONAL_SECURITY_FAMILY = "national_security"
#: ``service`` of the routes every service's frame serves (``shared.service``).
EVERY_SERVICE = "*"


class Reach(StrEnum):
    OWN_ORGANISATION = "own organisation"
    ANY = "any"
    ANY_WITHOUT_PERSONAL_DATA = "any, without personal data"


@dataclass(frozen=True)
class RoutePolicy:
    service: str
    method: str
    path: str
    summary: str
    #: Roles allowed and their reach; empty and ``public``: no credential needed.
    allowed: Mapping[Role, Reach] = field(default_factory=dict)
    public: bool = False


_READERS = {
    Role.SUBMITTER: Reach.OWN_ORGANISATION,
    Role.LEGAL: Reach.ANY,
    Role.READER: Reach.ANY_WITHOUT_PERSONAL_DATA,
    Role.AUDITOR: Reach.ANY_WITHOUT_PERSONAL_DATA,
}
_WRITERS = {Role.SUBMITTER: Reach.OWN_ORGANISATION, Role.LEGAL: Reach.ANY}


_COUNSEL = {Role.LEGAL: Reach.ANY}
#: The console's pages: every member of staff who signs in (not agency portals).
_STAFF = {
    Role.LEGAL: Reach.ANY,
    Role.READER: Reach.ANY_WITHOUT_PERSONAL_DATA,
    Role.AUDITOR: Reach.ANY_WITHOUT_PERSONAL_DATA,
}
CONSOLE = "console"
#: The paths (under ``/v1/requests/{request_id}/``) of counsel's commands.
COUNSEL_ROUTES: tuple[tuple[str, str], ...] = (
    ("requester-verification", "record how the requester was verified, or that it failed"),
    ("verdict-override", "override the classifier's verdict"),
    ("holds/end", "end an emergency, child-safety or counter-productive hold"),
    ("holds/withhold", "withhold a notice for good"),
    ("production", "decide what is produced per account and data category"),
    ("assignment", "assign the request to a reviewer"),
    ("comments", "comment on the request"),
)


def _public(service: str, method: str, path: str, summary: str) -> RoutePolicy:
    return RoutePolicy(service, method, path, summary, public=True)


POLICY: tuple[RoutePolicy, ...] = (
    # --- the frame of every service --------------------------------------------------
    _public(EVERY_SERVICE, "GET", "/healthz", "liveness"),
    _public(EVERY_SERVICE, "GET", "/readyz", "readiness"),
    _public(EVERY_SERVICE, "GET", "/metrics", "Prometheus metrics (admin port)"),
    _public(EVERY_SERVICE, "GET", "/openapi.json", "OpenAPI document (when enabled)"),
    _public(EVERY_SERVICE, "GET", "/docs", "API documentation (when enabled)"),
    _public(EVERY_SERVICE, "GET", "/docs/oauth2-redirect", "API documentation (when enabled)"),
    _public(EVERY_SERVICE, "GET", "/redoc", "API documentation (when enabled)"),
    # --- intake ----------------------------------------------------------------------
    RoutePolicy("intake", "POST", "/v1/requests", "submit a request", _WRITERS),
    RoutePolicy(
        "intake", "POST", "/v1/requests/{request_id}/amendments", "amend a request", _WRITERS
    ),
    RoutePolicy(
        "intake",
        "POST",
        "/v1/requests/{request_id}/decision",
        "record the outcome",
        {Role.LEGAL: Reach.ANY},
    ),
    # --- intake: counsel's commands (legal staff only; services/intake/counsel_api.py) --
    *(
        RoutePolicy("intake", "POST", f"/v1/requests/{{request_id}}/{path}", summary, _COUNSEL)
        for path, summary in COUNSEL_ROUTES
    ),
    # --- audit -----------------------------------------------------------------------
    RoutePolicy("audit", "GET", "/v1/requests", "list requests", _READERS),
    RoutePolicy("audit", "GET", "/v1/requests/{request_id}", "a request's history", _READERS),
    RoutePolicy(
        "audit",
        "GET",
        "/v1/queue",
        "legal staff's queue of open requests: deadlines, risk, assignee, what waits",
        {Role.LEGAL: Reach.ANY},
    ),
    RoutePolicy(
        "audit",
        "GET",
        "/v1/deadletters",
        "records the pipeline could not process (no values)",
        {Role.LEGAL: Reach.ANY, Role.READER: Reach.ANY, Role.AUDITOR: Reach.ANY},
    ),
    _public("audit", "GET", "/v1/reports/transparency", "the published transparency report"),
    _public("audit", "GET", "/v1/reports/transparency/chart.svg", "its chart"),
    _public("audit", "GET", "/v1/audit/tree-head", "the signed tree head"),
    _public("audit", "GET", "/v1/audit/public-key", "the tree-head signing key"),
    _public("audit", "GET", "/v1/log/checkpoint", "the latest tree head as a C2SP checkpoint"),
    _public("audit", "GET", "/v1/audit/proof/inclusion", "an inclusion proof"),
    _public("audit", "GET", "/v1/audit/proof/consistency", "a consistency proof"),
    RoutePolicy(
        "audit",
        "GET",
        "/v1/audit/leaves/{leaf_index}",
        "a leaf's stored bytes (the whole event, personal data included)",
        {Role.LEGAL: Reach.ANY},
    ),
    # --- console (services/console, docs/console.md): a signed-in person's role, from
    # the identity provider; the console calls intake and audit as that person -------
    _public(CONSOLE, "GET", "/signin", "sign in through the identity provider"),
    _public(CONSOLE, "GET", "/signin/callback", "the identity provider's answer"),
    _public(CONSOLE, "GET", "/signin/dev", "local sign-in (development mode only)"),
    _public(CONSOLE, "POST", "/signin/dev", "local sign-in (development mode only)"),
    _public(CONSOLE, "POST", "/signout", "sign out"),
    _public(CONSOLE, "GET", "/static/{path:path}", "the console's stylesheet and scripts"),
    RoutePolicy(CONSOLE, "GET", "/", "the start page (the queue)", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/queue", "the queue of open requests", _COUNSEL),
    RoutePolicy(CONSOLE, "GET", "/requests", "open a request by its id", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/requests/{request_id}", "a request's page", _STAFF),
    RoutePolicy(
        CONSOLE,
        "POST",
        "/requests/{request_id}/actions/{action}",
        "counsel's decisions and gag changes, as forms",
        _COUNSEL,
    ),
    RoutePolicy(CONSOLE, "GET", "/report", "the transparency report", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/report.csv", "the transparency report as CSV", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/report/chart.svg", "its chart", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/policy", "the active and shadow policies, case results", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/log/checkpoint", "the log's checkpoint (verify badge)", _STAFF),
    RoutePolicy(CONSOLE, "GET", "/log/proof", "an inclusion proof (verify badge)", _STAFF),
    RoutePolicy(
        CONSOLE,
        "GET",
        "/log/leaves/{leaf_index}",
        "a leaf's bytes, the whole event (verify badge; legal staff, as audit's route)",
        _COUNSEL,
    ),
)

_BY_ROUTE = {(p.service, p.method, p.path): p for p in POLICY}


def policy_for(service: str, method: str, path: str) -> RoutePolicy | None:
    """The entry of a route; None when the table has none (the guard then refuses)."""
    return _BY_ROUTE.get((service, method, path)) or _BY_ROUTE.get((EVERY_SERVICE, method, path))


def reach_of(policy: RoutePolicy, principal: Principal) -> Reach | None:
    """How far ``principal`` reaches on this route; None: its role may not call it."""
    return policy.allowed.get(principal.role)


def is_national_security(
    instrument_type: str | None, agency_type: str | None, family: str | None
) -> bool:
    """National-security process: classified in the national-security family, a national
    security letter, or from an intelligence agency (the transparency report's banding
    uses the same test). Before classification only the form can tell."""
    return (
        family == NATIONAL_SECURITY_FAMILY
        or instrument_type == "national_security_letter"
        or agency_type == "intelligence"
    )


def may_see(
    principal: Principal,
    reach: Reach,
    organisation: str | None,
    national_security: bool,
) -> bool:
    """Whether ``principal`` (reaching ``reach``) may see a request of ``organisation``."""
    if national_security and not principal.national_security:
        return False
    if reach is Reach.OWN_ORGANISATION:
        return principal.owns(organisation)
    return True


#: Fields removed, wherever they appear, from what ``ANY_WITHOUT_PERSONAL_DATA`` reads:
#: the document, contact data, the targeted accounts and free text that may name people.
PERSONAL_FIELDS = frozenset(
    {
        "document_text",
        "contact_email",
        "stated_purpose",
        "justification",
        "issued_by",
        "note",
        "evidence",
        "handle",
        "platform_user_id",
        "address",
        "recipient",
    }
)
REDACTED = "[redacted]"


#: Fields removed as well inside a request's ``counsel`` section: legal staff's reasons
#: and comments, the agency's contact, how production was narrowed and the account a
#: production decision is about may name people.
PERSONAL_IN_COUNSEL = PERSONAL_FIELDS | {"reason", "comment", "contact", "narrowed_to", "account"}


def without_personal_data(value: Any, fields: frozenset[str] = PERSONAL_FIELDS) -> Any:
    """``value`` (JSON-like) with every :data:`PERSONAL_FIELDS` entry that holds
    something replaced by ``"[redacted]"`` (:data:`PERSONAL_IN_COUNSEL` under a
    ``counsel`` key)."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if key in fields and item not in (None, "", [], {})
            else without_personal_data(item, PERSONAL_IN_COUNSEL if key == "counsel" else fields)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [without_personal_data(item, fields) for item in value]
    return value
