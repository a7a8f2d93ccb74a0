"""The console's forms, read into the bodies of intake's routes. Pure: no I/O.

Each action form posts ``application/x-www-form-urlencoded`` fields; :func:`decision_of`
turns them into the decision ``shared.counsel`` defines (or the amendment of
``shared.amendments``), so a form is checked by the same models intake checks, and a
mistake is shown next to its field before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.amendments import Amendment
from shared.counsel import (
    Assignment,
    Comment,
    HoldEnd,
    NoticeWithhold,
    ProductionDecision,
    RequesterVerification,
    VerdictOverride,
)


@dataclass(frozen=True)
class Action:
    """One form: its intake route (under ``/v1/requests/{id}/``), body model, label."""

    path: str
    model: type[BaseModel]
    label: str


#: The form name (in ``/requests/{id}/actions/<name>``) -> what it records.
ACTIONS: dict[str, Action] = {
    "verify-requester": Action(
        "requester-verification", RequesterVerification, "requester verification"
    ),
    "override": Action("verdict-override", VerdictOverride, "verdict override"),
    "end-hold": Action("holds/end", HoldEnd, "end of a hold (the notice is sent)"),
    "withhold": Action("holds/withhold", NoticeWithhold, "notice withheld for good"),
    "production": Action("production", ProductionDecision, "production decision"),
    "assign": Action("assignment", Assignment, "assignment"),
    "comment": Action("comments", Comment, "comment"),
    "gag": Action("amendments", Amendment, "gag change"),
}


def read_form(form: Mapping[str, object]) -> dict[str, str]:
    """A form's text fields as field -> value (the last one when repeated); the form
    is parsed once, by the CSRF check before the route (``services/console/auth.py``)."""
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _utc(value: str | None) -> str | None:
    """A ``datetime-local`` value the form labels as UTC, as ISO 8601 with ``Z``."""
    if value is None:
        return None
    return value + ("Z" if len(value) > 10 else "T00:00:00Z")


def _target(form: dict[str, str]) -> dict[str, str] | None:
    """``target`` is ``handle:<h>`` or ``id:<platform_user_id>``; empty: every account."""
    chosen = _text(form, "target")
    if chosen is None:
        return None
    kind, _, value = chosen.partition(":")
    return {"platform_user_id": value} if kind == "id" else {"handle": value}


def _body(name: str, form: dict[str, str], now: datetime) -> dict[str, Any]:
    reason = _text(form, "reason")
    if name == "verify-requester":
        return {
            "method": _text(form, "method"),
            "contact": _text(form, "contact"),
            "contacted_at": _utc(_text(form, "contacted_at")),
            "outcome": _text(form, "outcome"),
            "reason": reason,
        }
    if name == "override":
        code, family = _text(form, "authority_code"), _text(form, "authority_family")
        authority = None
        if code or family:
            authority = {
                "code": code,
                "family": family,
                "jurisdiction": _text(form, "authority_jurisdiction"),
            }
        return {
            "authority": authority,
            "risk_level": _text(form, "risk_level"),
            "recommended_action": _text(form, "recommended_action"),
            "reason": reason,
        }
    if name == "end-hold":
        return {"hold": _text(form, "hold"), "target": _target(form), "reason": reason}
    if name == "withhold":
        return {"target": _target(form), "reason": reason}
    if name == "production":
        decisions = []
        for field, value in form.items():
            if field.startswith("decision.") and value:
                category = field.removeprefix("decision.")
                entry: dict[str, Any] = {"category": category, "decision": value}
                if value == "narrowed":
                    entry["narrowed_to"] = _text(form, f"narrowed.{category}")
                decisions.append(entry)
        return {"target": _target(form), "decisions": decisions, "reason": reason}
    if name == "assign":
        return {"assignee": _text(form, "assignee"), "reason": reason}
    if name == "comment":
        return {"comment": _text(form, "comment")}
    # gag: the order as it now stands; lifting it is ``ordered`` unticked
    return {
        "nondisclosure": {
            "ordered": form.get("ordered") == "on",
            "authority": _text(form, "gag_authority"),
            "expires_at": _utc(_text(form, "expires_at")),
        },
        "note": reason,
        "effective_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


@dataclass(frozen=True)
class FormResult:
    """The body to send, or the problems to show next to each field."""

    body: dict[str, Any] | None
    problems: dict[str, str]


def decision_of(name: str, form: dict[str, str], now: datetime) -> FormResult:
    """The checked body of action ``name`` from its ``form``."""
    action = ACTIONS[name]
    raw = _body(name, form, now)
    if name == "gag" and not raw["note"]:
        return FormResult(None, {"reason": "say why the order changed"})
    try:
        model = action.model.model_validate(raw)
    except ValidationError as error:
        return FormResult(None, field_problems(error.errors()))
    return FormResult(model.model_dump(mode="json", exclude_none=True), {})


def field_problems(errors: Any) -> dict[str, str]:
    """pydantic's errors (``loc``, ``msg``), or a 422 problem document's (``pointer``,
    ``detail``, ``shared.problems``), as form field -> message."""
    problems: dict[str, str] = {}
    for error in errors:
        if "loc" in error:
            location = [str(part) for part in error["loc"] if part != "body"]
        else:
            pointer = str(error.get("pointer") or error.get("parameter") or "")
            location = [part for part in pointer.lstrip("#").split("/") if part]
        field = _FIELD_NAMES.get(".".join(location[:2]), location[0] if location else "form")
        problems.setdefault(field, str(error.get("msg") or error.get("detail") or "invalid"))
    return problems


#: The body's field -> the form's, where they differ.
_FIELD_NAMES = {
    "authority.code": "authority_code",
    "authority.family": "authority_family",
    "authority.jurisdiction": "authority_jurisdiction",
    "nondisclosure.expires_at": "expires_at",
    "nondisclosure.authority": "gag_authority",
    "note": "reason",
}
