"""What intake is asked to do and what comes of it: the command and result types of its
service layer. Pure: no Kafka, HTTP or SQL here.

``NewRequest`` and ``Change`` are a submission and an amendment or decision as the
store records them; ``CounselCommand`` is one decision of legal staff
(``shared.counsel``), recorded by ``service_layer.handlers.handle``. Every one of them
answers ``NotFound`` (the caller may not see the request: never ``403``), ``Refused``
(``409``, with the sentence) or ``Recorded``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.intake.domain.lifecycle import RequestState
from shared.auth.keys import Principal
from shared.auth.policy import Reach, may_see
from shared.counsel import CounselDecision
from shared.events import COUNSEL_EVENTS, CounselAction
from shared.submission import DataCategory

#: Publishes the event a write stands for; the write is committed only once it returned.
Publish = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RequestOwner:
    """Whose a request is: the organisation that submitted it (``requester.agency``;
    None for requests accepted before ownership was recorded) and whether it is
    national-security process by its form."""

    organisation: str | None
    national_security: bool

    def visible_to(self, principal: Principal, reach: Reach) -> bool:
        return may_see(principal, reach, self.organisation, self.national_security)


@dataclass(frozen=True)
class NewRequest:
    request_id: str
    fingerprint: str
    event_id: str
    submitted_by: str
    accepted_at: datetime
    data_requested: tuple[DataCategory, ...]
    nondisclosure_ordered: bool
    owner: RequestOwner
    external_ref: str

    @property
    def agency_key(self) -> str:
        """The agency as the natural key compares it (case-folded)."""
        return (self.owner.organisation or "").strip().casefold()


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Recorded:
    """The change is recorded: just now, or earlier (``replayed``)."""

    replayed: bool


ChangeResult = NotFound | Refused | Recorded


@dataclass(frozen=True)
class Change:
    """An amendment or a decision, with the rules that decide whether it applies."""

    request_id: str
    event_id: str
    kind: str
    submitted_by: str
    accepted_at: datetime
    #: False: the caller may not see the request, which then answers as unknown.
    visible: Callable[[RequestOwner], bool]
    conflict: Callable[[RequestState], str | None]
    apply: Callable[[RequestState], RequestState]


class CounselCommand(BaseModel):
    """One decision of legal staff about a request. ``author`` is the client id of the
    API key that sent it, never a body field; ``principal`` and ``reach`` say which
    requests that key may see."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    request_id: str
    author: str
    principal: Principal
    reach: Reach
    decision: CounselDecision
    recorded_at: datetime

    def event(self) -> CounselAction:
        """The event that records this decision on ``docket.request.counsel``."""
        [cls] = [cls for cls in COUNSEL_EVENTS if type(self.decision) in cls.__mro__]
        return cls(
            request_id=self.request_id,
            author=self.author,
            recorded_at=self.recorded_at,
            **self.decision.model_dump(),
        )


@dataclass(frozen=True)
class CounselRecorded:
    """The decision is recorded as ``event_id``: just now, or earlier (``replayed``:
    the same decision was the request's last one)."""

    event_id: str
    replayed: bool


CounselResult = NotFound | Refused | CounselRecorded


@dataclass(frozen=True)
class CounselRecord:
    """A recorded decision of counsel, as the unit of work keeps it."""

    event_id: str
    request_id: str
    kind: str
    fingerprint: str
    author: str
    recorded_at: datetime
