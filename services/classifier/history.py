"""What a request's verdict answers: the submission and the amendments that had arrived
when its cause arrived. Pure: the store supplies the history, these functions pick the
inputs, so a redelivered cause picks the same ones again."""

from __future__ import annotations

from dataclasses import dataclass

from shared.amendments import Amendment
from shared.events import RequestLink
from shared.submission import Submission


@dataclass(frozen=True)
class StoredAmendment:
    event_id: str
    #: Place in the request's arrival order (shared with the submission).
    position: int
    amendment: Amendment


@dataclass(frozen=True)
class RequestHistory:
    """Everything the classifier kept of one request, amendments in arrival order."""

    request_id: str
    submission: Submission | None
    received_position: int | None
    amendments: tuple[StoredAmendment, ...]
    #: The earlier requests it was linked to on arrival, and the one it duplicates.
    links: tuple[RequestLink, ...] = ()
    duplicate_of: str | None = None


@dataclass(frozen=True)
class VerdictInputs:
    submission: Submission
    amendments: tuple[Amendment, ...]
    links: tuple[RequestLink, ...] = ()
    duplicate_of: str | None = None


def inputs_on_received(history: RequestHistory) -> VerdictInputs | None:
    """The submission's verdict takes in every amendment that arrived before it (an
    amendment can overtake its request: they travel on different topics)."""
    if history.submission is None or history.received_position is None:
        return None
    earlier = tuple(
        a.amendment for a in history.amendments if a.position < history.received_position
    )
    return VerdictInputs(history.submission, earlier, history.links, history.duplicate_of)


def inputs_on_amended(history: RequestHistory, event_id: str) -> VerdictInputs | None:
    """The amendment's verdict takes in the amendments up to and including it; None when
    there is nothing to publish for it: the submission has not arrived yet, or arrived
    after the amendment, whose effect its verdict already carries."""
    if history.submission is None or history.received_position is None:
        return None
    position = next((a.position for a in history.amendments if a.event_id == event_id), None)
    if position is None or position < history.received_position:
        return None
    so_far = tuple(a.amendment for a in history.amendments if a.position <= position)
    return VerdictInputs(history.submission, so_far, history.links, history.duplicate_of)
