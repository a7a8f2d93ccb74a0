"""Later changes to a request (a gag added, extended or lifted; the request withdrawn)
and the request's effective state once they are applied. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, StrictBool

from shared.submission import Nondisclosure, Submission, UtcDatetime


class Amendment(BaseModel):
    """``POST /v1/requests/{id}/amendments`` body. ``nondisclosure`` replaces the
    request's current non-disclosure order when given (``ordered: false`` lifts it);
    ``null`` leaves it as it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nondisclosure: Nondisclosure | None = None
    withdrawn: StrictBool = False
    note: str | None = None
    effective_at: UtcDatetime


class EffectiveState(BaseModel):
    """The request as it stands at ``as_of``."""

    model_config = ConfigDict(frozen=True)

    nondisclosure: Nondisclosure
    withdrawn: bool
    withdrawn_at: datetime | None = None


def effective_state(
    submission: Submission, amendments: Iterable[Amendment], as_of: datetime
) -> EffectiveState:
    """Apply, in order of ``effective_at``, every amendment in force at ``as_of``."""
    nondisclosure = submission.instrument.nondisclosure
    withdrawn_at: datetime | None = None
    for amendment in sorted(amendments, key=lambda a: a.effective_at):
        if amendment.effective_at > as_of:
            break
        if amendment.nondisclosure is not None:
            nondisclosure = amendment.nondisclosure
        if amendment.withdrawn and withdrawn_at is None:
            withdrawn_at = amendment.effective_at
    return EffectiveState(
        nondisclosure=nondisclosure, withdrawn=withdrawn_at is not None, withdrawn_at=withdrawn_at
    )
