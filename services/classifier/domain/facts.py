"""Everything the rules may look at for one request, gathered once: the submission's
fields (normalised for citation matching), the targets as the account directory knows
them, the gag in force, and — once identified — the legal authority and its reach."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property

from services.classifier.domain.agencies import AgencyRegistry
from services.classifier.domain.extract import DocumentFacts, read_document
from services.classifier.domain.requester import RequesterEvidence, assess_requester
from services.classifier.domain.text import NormalisedText, normalise, redact
from shared.accounts import Account, AccountDirectory, Resolution
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


#: Identifiers shorter than this are not searched for in evidence (they would replace
#: ordinary words); the generic redaction still blanks handles, addresses and numbers.
_SHORTEST_IDENTIFIER = 3


class GagState(StrEnum):
    NONE = "none"  # no non-disclosure ordered
    BINDING = "binding"  # ordered under a recognised US legal authority (may have expired)
    NONBINDING = "nonbinding"  # "ordered" by a US requester with no legal authority for it
    FOREIGN = "foreign"  # secrecy claimed under foreign law; its force over us is unsettled


class AuthorityBasis(StrEnum):
    MATCHED = "matched"  # a recognised authority was identified
    CONTRADICTORY = "contradictory"  # the document's own signals contradict each other
    NONE = "none"  # no legal authority stated or recognisable


@dataclass(frozen=True)
class TargetFacts:
    target: Target
    account: Account | None
    #: the target's platform_user_id and handle point at different accounts
    identifiers_conflict: bool
    #: how the directory read the target's identifier, and how many accounts it fits
    resolution: Resolution
    #: 1-based place in the submission's targets (the event's ``TargetReference.index``)
    index: int = 1

    @property
    def label(self) -> str:
        """How evidence names the target, never by personal data (a handle, a user id,
        an address): "target 2" is the submission's second target, as the verdict's
        ``targets`` reference it."""
        return f"target {self.index}"

    def identifiers(self) -> tuple[str, ...]:
        """Every identifier of the target and of the account it resolved to: the
        personal strings evidence must never carry."""
        account = self.account
        found = (
            (account.handle, account.platform_user_id, account.email, account.phone)
            if account is not None
            else ()
        )
        named = (self.target.handle, self.target.platform_user_id, *found)
        display = account.display_name if account is not None else None
        return tuple(value for value in (*named, display) if value)


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
    def _personal_strings(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        """(pattern, replacement) for every identifier of every target (longest first,
        so "@name" is replaced before "name") and the requester's contact address."""
        replacements: dict[str, str] = {}
        contact = self.submission.requester.contact_email
        if contact:
            replacements[contact] = "[e-mail address]"
        for target in self.targets:
            for value in target.identifiers():
                for form in {value, value.lstrip("@")}:
                    if len(form.strip()) >= _SHORTEST_IDENTIFIER:
                        replacements.setdefault(form.strip(), target.label)
        return tuple(
            (re.compile(rf"(?<![\w@]){re.escape(value)}(?!\w)", re.IGNORECASE), label)
            for value, label in sorted(replacements.items(), key=lambda kv: -len(kv[0]))
        )

    def without_personal_data(self, text: str) -> str:
        """``text`` (evidence, a quote of the document) with every identifier of the
        request's targets replaced by the target's reference ("target 1"), and any other
        e-mail address, phone number or @handle blanked out."""
        for pattern, label in self._personal_strings:
            text = pattern.sub(label, text)
        return redact(text)

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


def _target_facts(index: int, target: Target, accounts: AccountDirectory) -> TargetFacts:
    resolution = accounts.resolve(target)
    account = resolution.account
    conflict = False
    if target.platform_user_id is not None and target.handle is not None:
        by_handle = accounts.find(Target(handle=target.handle))
        conflict = by_handle is not None and (
            account is None or by_handle.platform_user_id != account.platform_user_id
        )
    return TargetFacts(target, account, conflict, resolution, index)


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
    targets = tuple(
        _target_facts(index, t, accounts) for index, t in enumerate(submission.targets, start=1)
    )
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
