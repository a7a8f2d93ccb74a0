"""Bodies and answers of intake's HTTP API (the contract's section 1 shapes, plus what
intake requires at its edge)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.amendments import Amendment
from shared.events import Outcome
from shared.submission import PROSE, DataCategory, ShortText

NoteText = Annotated[str, Field(max_length=5_000), PROSE]


class AmendmentBody(Amendment):
    """``POST /v1/requests/{id}/amendments``: an amendment that says something."""

    note: NoteText | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> AmendmentBody:
        if self.nondisclosure is None and not self.withdrawn and self.note is None:
            raise ValueError(
                "an amendment must change the non-disclosure order, withdraw the request "
                "or carry a note"
            )
        return self


class DecisionBody(BaseModel):
    """``POST /v1/requests/{id}/decision``: legal staff record the outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    outcome: Outcome
    data_disclosed: Annotated[list[DataCategory], Field(max_length=len(DataCategory))] = []
    #: Who decided is the API key's client, recorded from the credential. Sent, it must
    #: name that client (a body naming someone else is refused with 422).
    decided_by: ShortText | None = None
    note: NoteText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DecisionBody:
        if len(set(self.data_disclosed)) != len(self.data_disclosed):
            raise ValueError("data_disclosed lists a category twice")
        produces = self.outcome in (Outcome.DISCLOSED, Outcome.PARTIALLY_DISCLOSED)
        if produces and not self.data_disclosed:
            raise ValueError(f"an outcome of {self.outcome.value} must name the data disclosed")
        if not produces and self.data_disclosed:
            raise ValueError(f"an outcome of {self.outcome.value} discloses no data")
        return self


class Accepted(BaseModel):
    request_id: str
    status_url: str


class ChangeAccepted(BaseModel):
    request_id: str
    event_id: str
    status_url: str


def new_request_id() -> str:
    """A random request id (uuid4): it tells nothing of the agency or its reference and
    cannot be computed from them. A re-submission finds its first id by (agency,
    external_ref) or by Idempotency-Key in intake's database."""
    return str(uuid.uuid4())
