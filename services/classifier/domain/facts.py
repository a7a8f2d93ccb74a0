"""Everything the rules may look at for one request, gathered once: the submission's
fields (normalised for citation matching), the targets as the account directory knows
them, the gag in force, and — once identified — the legal authority and its reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property

from services.classifier.domain.agencies import AgencyRegistry
from services.classifier.domain.extract import DocumentFacts, read_document
from services.classifier.domain.requester import RequesterEvidence, assess_requester
from services.classifier.domain.text import NormalisedText, normalise, redact
from shared.accounts import Account, AccountDirectory, IdentifierForm, Resolution, identifier_form
from shared.events import RequestLink
from shared.submission import DataCategory, Nondisclosure, Submission, Target


class TextField(StrEnum):
    """The parts of a submission a text condition can read."""

    CITED_AUTHORITY = "cited_authority"
    DOCUMENT_TEXT = "document_text"
    ISSUED_BY = "issued_by"
    STATED_PURPOSE = "stated_purpose"
    EMERGENCY_JUSTIFICATION = "emergency_justification"
    NONDISCLOSURE_AUTHORITY = "nondisclosure_authority"
    REQUESTER_AGENCY = "requester_agency"


class GagState(StrEnum):
    NONE = "none"  # no non-disclosure ordered
    BINDING = "binding"  # ordered under a recognised US legal authority (may have expired)
    NONBINDING = "nonbinding"  # "ordered" by a US requester with no legal authority for it
    FOREIGN = "foreign"  # secrecy claimed under foreign law; its force over us is unsettled


class AuthorityBasis(StrEnum):
    MATCHED = "matched"  # a recognised authority was identified
    CONTRADICTORY = "contradictory"  # the document's own signals contradict each other
    NONE = "none"  # no legal authority stated or recognisable


#: How evidence names a target the directory did not find, when its identifier is
#: personal data (the same words ``redact`` puts in place of such data in quotes).
_UNFOUND_LABELS = {
    IdentifierForm.EMAIL: "[e-mail address]",
    IdentifierForm.PHONE: "[phone number]",
    IdentifierForm.DISPLAY_NAME: "[display name]",
}


@dataclass(frozen=True)
class TargetFacts:
    target: Target
    account: Account | None
    #: the target's platform_user_id and handle point at different accounts
    identifiers_conflict: bool
    #: how the directory read the target's identifier, and how many accounts it fits
    resolution: Resolution

    @cached_property
    def label(self) -> str:
        """How evidence names the target, never by personal data: a handle or profile
        URL as given (redacted), else the found account's handle, else the form of the
        identifier ("[e-mail address]"); worked out once, as rules ask for it many times."""
        handle = self.target.handle
        if handle is None:
            return f"user id {redact(self.target.platform_user_id or '')}"
        form = identifier_form(handle)
        if form in (IdentifierForm.HANDLE, IdentifierForm.PROFILE_URL):
            return redact(handle)
        if self.account is not None:
            return redact(self.account.handle)
        return _UNFOUND_LABELS[form]


@dataclass(frozen=True)
class Gag:
    state: GagState
    nondisclosure: Nondisclosure
    #: binding and not yet expired at the as-of time
    active: bool


@dataclass
class Facts:
    submission: Submission
    as_of: datetime
    home_country: str
    texts: dict[TextField, NormalisedText]
    targets: tuple[TargetFacts, ...]
    nondisclosure: Nondisclosure
    withdrawn_by_amendment: bool
    # Filled in once the authority is identified (see classify).
    authority_code: str = ""
    authority_basis: AuthorityBasis = AuthorityBasis.NONE
    matched_text: str | None = None
    #: the authority the document invokes although its sender may not issue it
    wrong_issuer: str | None = None
    authority_family: str = ""
    authority_tags: frozenset[str] = frozenset()
    in_force_from: date | None = None
    #: every category the identified authority can reach, asked for or not
    authority_can_compel: tuple[DataCategory, ...] = ()
    compellable: tuple[DataCategory, ...] = ()
    beyond_authority: tuple[DataCategory, ...] = ()
    gag: Gag | None = None
    #: factor code -> evidence, in the order the policy raised them
    factors: dict[str, str] = field(default_factory=dict)
    #: the agency registry the requester's identity is checked against
    agencies: AgencyRegistry = field(default_factory=lambda: AgencyRegistry(()))
    #: earlier requests for the same account or from the same requester, on arrival
    linked: tuple[RequestLink, ...] = ()

    @property
    def requester_foreign(self) -> bool:
        return self.submission.requester.country != self.home_country

    @cached_property
    def document(self) -> DocumentFacts:
        """What the demand's own words say (counts, periods, secrecy, contexts ...),
        read once when a rule first asks."""
        return read_document({name.value: text for name, text in self.texts.items()})

    @cached_property
    def accounts(self) -> tuple[tuple[str, Account], ...]:
        """(label, account) of every target found in the account directory."""
        return tuple((t.label, t.account) for t in self.targets if t.account is not None)

    @cached_property
    def requester(self) -> RequesterEvidence:
        """Signals about the sender's identity (worked out once, when a rule asks)."""
        return assess_requester(self.submission, self.agencies)


def _texts(submission: Submission) -> dict[TextField, NormalisedText]:
    instrument = submission.instrument
    raw = {
        TextField.CITED_AUTHORITY: instrument.cited_authority,
        TextField.DOCUMENT_TEXT: instrument.document_text,
        TextField.ISSUED_BY: instrument.issued_by,
        TextField.STATED_PURPOSE: submission.stated_purpose,
        TextField.EMERGENCY_JUSTIFICATION: submission.emergency.justification,
        TextField.NONDISCLOSURE_AUTHORITY: None,
        TextField.REQUESTER_AGENCY: submission.requester.agency,
    }
    return {name: normalise(value or "") for name, value in raw.items()}


def _target_facts(target: Target, accounts: AccountDirectory) -> TargetFacts:
    resolution = accounts.resolve(target)
    account = resolution.account
    conflict = False
    if target.platform_user_id is not None and target.handle is not None:
        by_handle = accounts.find(Target(handle=target.handle))
        conflict = by_handle is not None and (
            account is None or by_handle.platform_user_id != account.platform_user_id
        )
    return TargetFacts(target, account, conflict, resolution)


def gather(
    submission: Submission,
    accounts: AccountDirectory,
    as_of: datetime,
    home_country: str,
    nondisclosure: Nondisclosure,
    withdrawn_by_amendment: bool,
    agencies: AgencyRegistry | None = None,
    linked: tuple[RequestLink, ...] = (),
) -> Facts:
    texts = _texts(submission)
    texts[TextField.NONDISCLOSURE_AUTHORITY] = normalise(nondisclosure.authority or "")
    targets = tuple(_target_facts(t, accounts) for t in submission.targets)
    return Facts(
        submission=submission,
        as_of=as_of,
        home_country=home_country,
        texts=texts,
        targets=targets,
        nondisclosure=nondisclosure,
        withdrawn_by_amendment=withdrawn_by_amendment,
        agencies=agencies if agencies is not None else AgencyRegistry(()),
        linked=linked,
    )
