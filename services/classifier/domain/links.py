"""Linking a request, on arrival, to the earlier requests it follows on from. Pure.

Two requests are linked when they name the same account (by platform user id, or an
identifier the account directory resolves to that account) or come from the same
requester (the agency). Of the links the law and practice care about:

- a re-issue after pushback: the same requester demanding the same account again
  after its earlier demand was withdrawn, or was challenged or refused by the platform
  (its recorded outcome ``challenged`` or ``rejected``). The policy's
  ``linked_request_resisted`` condition reads it (ESCALATION_AFTER_PUSHBACK);
- a duplicate: the same requester's same instrument (same kind of process with the
  same case number, or the same document text) while the first is still open, e.g.
  served by e-mail and again through the portal. It is linked to the original and
  flagged; its notices are the original's (the notifier plans none for it), so a user
  is never told twice about one demand.

Keys are SHA-256 digests, so the index of links holds no identifier in clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.accounts import AccountDirectory
from shared.events import LinkReason, RequestLink
from shared.submission import InstrumentType, Submission, handle_key

#: Outcomes that are the platform's pushback: a re-issue after them escalates.
PUSHBACK_OUTCOMES = frozenset({"challenged", "rejected"})
WITHDRAWN = "withdrawn"
OPEN = "open"
#: At most this many links by requester alone (an agency may send thousands): the
#: most recent are kept, and every link by account.
MAX_REQUESTER_LINKS = 20


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class LinkKeys:
    """What a request is linked by."""

    requester: str
    accounts: tuple[str, ...]
    #: None when the instrument has neither a case number nor a text to know it by.
    instrument: str | None


def link_keys(submission: Submission, accounts: AccountDirectory) -> LinkKeys:
    account_keys: set[str] = set()
    for target in submission.targets:
        account = accounts.resolve(target).account
        if account is not None and account.platform_user_id:
            account_keys.add(_digest("user", account.platform_user_id))
        elif target.platform_user_id is not None:
            account_keys.add(_digest("user", target.platform_user_id))
        elif target.handle is not None:
            account_keys.add(_digest("identifier", handle_key(target.handle)))
    instrument = submission.instrument
    identity: str | None = None
    if instrument.case_number and instrument.case_number.strip():
        identity = _digest("case", instrument.type.value, _folded(instrument.case_number))
    elif instrument.document_text and instrument.document_text.strip():
        identity = _digest("text", instrument.type.value, _folded(instrument.document_text))
    return LinkKeys(
        requester=_digest("requester", _folded(submission.requester.agency)),
        accounts=tuple(sorted(account_keys)),
        instrument=identity,
    )


@dataclass(frozen=True)
class EarlierRequest:
    """An earlier request as the classifier keeps it, with what became of it."""

    request_id: str
    keys: LinkKeys
    received_at: datetime
    instrument_type: InstrumentType
    withdrawn: bool
    #: The latest recorded outcome (``DecisionRecorded``), if any.
    outcome: str | None
    #: It was itself a duplicate of an earlier one.
    duplicate: bool = False

    @property
    def status(self) -> str:
        if self.withdrawn:
            return WITHDRAWN
        return self.outcome or OPEN


@dataclass(frozen=True)
class Linked:
    links: tuple[RequestLink, ...]
    duplicate_of: str | None


def link_request(keys: LinkKeys, earlier: Sequence[EarlierRequest]) -> Linked:
    """The links of a request arriving with ``keys`` to ``earlier`` requests (in arrival
    order), and the original it duplicates, if any (the first open, non-duplicate one
    from the same requester with the same instrument)."""
    by_account: list[RequestLink] = []
    by_requester_only: list[RequestLink] = []
    duplicate_of: str | None = None
    for request in earlier:
        reasons: list[LinkReason] = []
        if set(keys.accounts) & set(request.keys.accounts):
            reasons.append(LinkReason.SAME_ACCOUNT)
        same_requester = keys.requester == request.keys.requester
        if same_requester:
            reasons.append(LinkReason.SAME_REQUESTER)
        same_instrument = (
            same_requester
            and keys.instrument is not None
            and keys.instrument == request.keys.instrument
        )
        if same_instrument:
            reasons.append(LinkReason.SAME_INSTRUMENT)
        if not reasons:
            continue
        link = RequestLink(
            request_id=request.request_id,
            reasons=tuple(reasons),
            status=request.status,
            received_at=request.received_at,
            instrument_type=request.instrument_type,
        )
        if (
            same_instrument
            and duplicate_of is None
            and request.status == OPEN
            and not request.duplicate
        ):
            duplicate_of = request.request_id
        if LinkReason.SAME_ACCOUNT in reasons or same_instrument:
            by_account.append(link)
        else:
            by_requester_only.append(link)
    return Linked(
        links=tuple(by_account + by_requester_only[-MAX_REQUESTER_LINKS:]),
        duplicate_of=duplicate_of,
    )


def resisted_earlier(links: Sequence[RequestLink]) -> RequestLink | None:
    """The earliest linked request from the same requester for the same account that was
    withdrawn or pushed back on: this one re-issues that demand."""
    for link in links:
        if {LinkReason.SAME_ACCOUNT, LinkReason.SAME_REQUESTER} <= set(link.reasons) and (
            link.status == WITHDRAWN or link.status in PUSHBACK_OUTCOMES
        ):
            return link
    return None
