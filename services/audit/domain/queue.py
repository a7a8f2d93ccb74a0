"""The legal team's queue: for each open request, what is waiting and on whom. Pure."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.audit.domain.request_view import RequestView

#: Who a request waits on when nobody is assigned.
UNASSIGNED = "legal (unassigned)"
#: Notice holds that only counsel can end (verified requester, an emergency over, ...).
COUNSEL_HOLDS = {
    "VERIFY_REQUESTER_FIRST": "verification of the requester before any notice",
    "EMERGENCY_DEFER": "review of an emergency hold on the notice",
    "CHILD_SAFETY_EXCEPTION": "review of a child-safety hold on the notice",
    "COUNTERPRODUCTIVE_EXCEPTION": "review of a counter-productive hold on the notice",
    "FOREIGN_CONFIDENTIALITY_UNRESOLVED": "a decision on a foreign secrecy claim",
    "NDO_INDEFINITE_SEEK_LIMIT": "a request to the court to limit an open-ended gag",
}


class Waiting(BaseModel):
    """What the request waits for, and who has to do it (a service, or a reviewer)."""

    model_config = ConfigDict(frozen=True)

    what: str
    on: str


def waiting_on(view: RequestView) -> Waiting:
    """The first thing, in the order a request moves, that is not done yet."""
    reviewer = view.assignee or UNASSIGNED
    if view.duplicate_of is not None:
        return Waiting(what=f"closing as a duplicate of request {view.duplicate_of}", on=reviewer)
    if view.received is None:
        return Waiting(what="the request itself (only later events arrived)", on="intake")
    if view.classification is None:
        return Waiting(what="classification", on="classifier")
    reasons = [n.reason for n in view.notifications if n.last_event == "NotificationWithheld"]
    for reason in reasons:
        if reason in COUNSEL_HOLDS:
            return Waiting(what=COUNSEL_HOLDS[reason], on=reviewer)
    if any(n.last_event == "NotificationFailed" for n in view.notifications):
        return Waiting(what="delivery of a notice to the user (failed, retried)", on="notifier")
    targets = (view.received.get("submission") or {}).get("targets") or []
    if targets and not view.notifications:
        return Waiting(what="the notice decision", on="notifier")
    return Waiting(what="the response: produce, narrow, challenge or reject", on=reviewer)
