"""Is the sender who it says it is? Signals about the requester's identity, each with
its evidence, from the contact address, the agency registry and the document's text.

Forged emergency requests from hijacked or look-alike police mailboxes are the
best-documented failure in this field (domain.md section 5, REQUESTER_IDENTITY_
UNVERIFIED). What counts as evidence here:

* the address is on a public free-mail service;
* the domain imitates a registered one (homoglyphs, the registered name inside another
  domain, one letter off);
* a .gov domain that the .gov registry does not list (every real one is listed);
* the domain is registered, but to another body than the agency the request names (a
  customs summons from a county's domain; a requester in one country writing from
  another country's government namespace);
* the document asks for replies to an address elsewhere, or its signature gives an
  address elsewhere or names another agency;
* weaker: a domain neither registry knows (newly seen), or an e-mailed request with no
  sender address at all. Many real agencies write from such domains (police on .org,
  foreign ministries), so the policy decides when these count (an emergency claim).

Nothing here is evidence of fraud: a request with no address that came by mail, fax or
service of process; a foreign agency writing from its own government's namespace; and
the reserved documentation names (``example``, ``.test``, ``.invalid``) that anonymised
records use, which cannot be checked either way. Evidence names domains and registered
organisations only, never an address's local part or a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from services.classifier.domain.agencies import (
    AgencyKind,
    AgencyRecord,
    AgencyRegistry,
    LookAlikeHow,
    Named,
    OrganisationKey,
)
from shared.submission import AgencyType, InstrumentType, ReceivedVia, Submission


class SignalKind(StrEnum):
    FREE_MAIL = "free_mail"
    LOOK_ALIKE = "look_alike"
    UNREGISTERED_GOV_DOMAIN = "unregistered_gov_domain"
    NOT_THE_NAMED_AGENCY = "not_the_named_agency"
    REPLY_ELSEWHERE = "reply_elsewhere"
    SIGNATURE_MISMATCH = "signature_mismatch"
    UNKNOWN_DOMAIN = "unknown_domain"
    NO_SENDER_ADDRESS = "no_sender_address"


@dataclass(frozen=True)
class RequesterSignal:
    kind: SignalKind
    evidence: str


@dataclass(frozen=True)
class RequesterEvidence:
    """What the sender's address and the document say about who sent it."""

    domain: str | None
    #: the registry's record for the sender's domain (or its registered parent)
    record: AgencyRecord | None
    signals: tuple[RequesterSignal, ...]

    @property
    def verified(self) -> bool:
        """The address is on a government domain that fits the agency named, and no
        signal says otherwise."""
        return self.record is not None and self.record.government and not self.signals


_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@(?P<domain>[^\s@<>()\[\]\"',;:]+\.[^\W\d_]{2,})")
_REPLY_CONTEXT = re.compile(
    r"(?:reply[- ]?to|respond(?:ing)? (?:only )?to|responses? (?:\w+ ){0,2}(?:sent|directed|"
    r"returned|e-?mailed|forwarded) to|send (?:\w+ ){0,3}(?:records|results|response|"
    r"responses|information|data|production|documents|reply|replies)(?: only)? to|return "
    r"(?:\w+ ){0,2}to|contact (?:me|us|the undersigned|this office)(?: directly)? at|"
    r"e-?mail (?:me|us|the undersigned)(?: directly)? at|direct (?:all )?(?:questions|"
    r"responses|replies|correspondence) to|reply only to)[^@.;\n]{0,40}$",
    re.IGNORECASE,
)
#: Where a letter's signature block begins: a closing on its own ("Sincerely,",
#: "Respectfully submitted,") or an "/s/" signature.
_CLOSING = re.compile(
    r"(?:^|[\n.!]\s*)(?:sincerely|respectfully(?: submitted)?|(?:best |kind )?regards|"
    r"yours (?:truly|faithfully))\s*[,\n]|/s/",
    re.IGNORECASE,
)
_SIGNATURE_LENGTH = 400
_FEDERAL_TYPES = frozenset({AgencyType.FEDERAL_LAW_ENFORCEMENT, AgencyType.INTELLIGENCE})
#: Instruments that are the requester's own letter, signed by the requester. A court
#: order, a warrant or a subpoena is signed by its issuer (a judge, a clerk, a
#: prosecutor), who is rightly another body than the agency that applied for it.
SELF_SIGNED = frozenset(
    {
        InstrumentType.EMERGENCY_REQUEST,
        InstrumentType.PRESERVATION_REQUEST,
        InstrumentType.ADMINISTRATIVE_SUMMONS,
        InstrumentType.NATIONAL_SECURITY_LETTER,
        InstrumentType.OTHER,
    }
)


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().strip(".").casefold()


def is_placeholder(domain: str) -> bool:
    """A reserved documentation name (RFC 2606, RFC 6761): an anonymised record."""
    labels = domain.split(".")
    return labels[-1] in _RESERVED_TLDS or "example" in labels


def _names(registry: AgencyRegistry, keys: frozenset[OrganisationKey]) -> str:
    shown = sorted({registry.name_of(k) for k in keys})
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    return ", ".join(shown[:3]) + more


def _same_sender(registry: AgencyRegistry, one: str, other: str) -> bool:
    if one == other or one.endswith("." + other) or other.endswith("." + one):
        return True
    first, second = registry.lookup(one), registry.lookup(other)
    return (
        first is not None
        and second is not None
        and first.kind not in (AgencyKind.FREE_MAIL, AgencyKind.GOVERNMENT_NAMESPACE)
        and first.key == second.key
    )


def _signature_block(document: str) -> str:
    closings = list(_CLOSING.finditer(document))
    if not closings:
        return ""
    start = closings[-1].start()
    return document[start : start + _SIGNATURE_LENGTH]


@dataclass(frozen=True)
class _Context:
    submission: Submission
    registry: AgencyRegistry
    domain: str | None
    record: AgencyRecord | None
    agency: Named
    signature: Named


def _describe_look_alike(domain: str, imitated: AgencyRecord, how: LookAlikeHow) -> str:
    said = {
        LookAlikeHow.HOMOGLYPH: "uses characters that look like",
        LookAlikeHow.EMBEDDED: "wraps the registered domain",
        LookAlikeHow.TYPO: "is one letter from",
    }[how]
    return f"the contact domain {domain} {said} {imitated.domain} ({imitated.organisation})"


def _domain_signal(context: _Context) -> RequesterSignal | None:
    domain, record, registry = context.domain, context.record, context.registry
    requester = context.submission.requester
    if domain is None:
        if context.submission.received_via is ReceivedVia.EMAIL:
            return RequesterSignal(
                SignalKind.NO_SENDER_ADDRESS,
                "the request came by e-mail with no sender address to check",
            )
        return None
    if is_placeholder(domain):
        return None
    if record is not None and record.kind is AgencyKind.FREE_MAIL:
        return RequesterSignal(
            SignalKind.FREE_MAIL,
            f"the contact address is on the public mail service {domain} ({record.organisation})",
        )
    own_namespace = (
        record is not None
        and record.kind is AgencyKind.GOVERNMENT_NAMESPACE
        and record.country == requester.country
    )
    look = None if own_namespace else registry.look_alike(domain)
    if look is not None:
        return RequesterSignal(
            SignalKind.LOOK_ALIKE, _describe_look_alike(domain, look.imitated, look.how)
        )
    if record is None:
        if domain.endswith(".gov"):
            return RequesterSignal(
                SignalKind.UNREGISTERED_GOV_DOMAIN,
                f"the contact domain {domain} is not in {registry.source}",
            )
        return RequesterSignal(
            SignalKind.UNKNOWN_DOMAIN,
            f"the contact domain {domain} is in neither {registry.source} "
            "nor the operator's agency registry",
        )
    return _mismatch(context, record)


def _mismatch(context: _Context, record: AgencyRecord) -> RequesterSignal | None:
    requester = context.submission.requester
    domain = context.domain
    if (
        record.government
        and len(record.country) == 2
        and record.country != requester.country
        and requester.agency_type is not AgencyType.PRIVATE_LITIGANT
    ):
        return RequesterSignal(
            SignalKind.NOT_THE_NAMED_AGENCY,
            f"the requester is in {requester.country}, but the contact domain {domain} "
            f"belongs to {record.describe()} in {record.country}",
        )
    if record.kind not in (AgencyKind.FEDERAL, AgencyKind.STATE, AgencyKind.LOCAL,
                           AgencyKind.FOREIGN):  # fmt: skip
        return None
    named = context.agency
    if record.key in named.possible or record.key in context.signature.possible:
        return None
    if _court_and_applicant(context.registry, named, record) or _hosted_by_its_state(
        context.registry, named, record
    ):
        return None
    if named.confident:
        return RequesterSignal(
            SignalKind.NOT_THE_NAMED_AGENCY,
            f"the request names {_names(context.registry, named.confident)}, but the "
            f"contact domain {domain} is registered to {record.describe()}",
        )
    if requester.agency_type in _FEDERAL_TYPES and record.kind is not AgencyKind.FEDERAL:
        return RequesterSignal(
            SignalKind.NOT_THE_NAMED_AGENCY,
            f"a federal requester, but the contact domain {domain} is registered to "
            f"{record.describe()}",
        )
    return None


def _court_and_applicant(registry: AgencyRegistry, named: Named, record: AgencyRecord) -> bool:
    """A court's order sent by the agency that obtained it (an order naming the court,
    from a prosecutor's address), or an agency's demand sent by the court's clerk: courts
    and the agencies that apply to them hand each other's papers on."""
    if record.judicial:
        return True
    organisations = [registry.organisations.get(key) for key in named.confident]
    return bool(organisations) and all(o is not None and o.judicial for o in organisations)


def _hosted_by_its_state(registry: AgencyRegistry, named: Named, record: AgencyRecord) -> bool:
    """A local body writing from its state's domain (states host counties' and courts'
    mail, as ``*.ky.gov`` does)."""
    if record.kind is not AgencyKind.STATE:
        return False
    organisations = [registry.organisations.get(key) for key in named.confident]
    return bool(organisations) and all(
        o is not None and o.kind is AgencyKind.LOCAL and o.state == record.state
        for o in organisations
    )


def _address_signals(context: _Context) -> list[RequesterSignal]:
    """Addresses the document asks replies to go to, and those in its signature."""
    instrument = context.submission.instrument
    document = instrument.document_text or ""
    signature = _signature_block(document)
    found: list[RequesterSignal] = []
    self_signed = instrument.type in SELF_SIGNED
    places = [(document, True), (signature, False), (instrument.issued_by or "", False)]
    for text, look_for_replies in places:
        for match in _ADDRESS.finditer(text):
            if look_for_replies and not _REPLY_CONTEXT.search(text[: match.start()][-120:]):
                continue
            other = match.group("domain").casefold().strip(".")
            problem = _elsewhere(context, other, strict=look_for_replies or self_signed)
            if problem is None:
                continue
            if look_for_replies:
                found.append(
                    RequesterSignal(
                        SignalKind.REPLY_ELSEWHERE, f"the document asks for replies to {problem}"
                    )
                )
            else:
                found.append(
                    RequesterSignal(SignalKind.SIGNATURE_MISMATCH, f"the signature gives {problem}")
                )
    return found


def _elsewhere(context: _Context, other: str, strict: bool) -> str | None:
    """Why an address on ``other`` in the document does not fit the sender, if it does
    not: a free-mail or look-alike domain always; another domain when ``strict``."""
    registry, domain = context.registry, context.domain
    if is_placeholder(other) or (domain is not None and _same_sender(registry, domain, other)):
        return None
    record = registry.lookup(other)
    if record is not None and record.kind is AgencyKind.FREE_MAIL:
        return f"an address on the public mail service {other}"
    look = registry.look_alike(other)
    if look is not None and (
        record is None or record.country != context.submission.requester.country
    ):
        return f"an address on {other}, a look-alike of {look.imitated.domain}"
    if not strict or domain is None or is_placeholder(domain):
        return None
    return f"an address on {other}, not on the sender's domain {domain}"


def _signature_agency(context: _Context) -> RequesterSignal | None:
    """The signature of the requester's own letter names an agency the request does not."""
    agency, signature, record = context.agency, context.signature, context.record
    if context.submission.instrument.type not in SELF_SIGNED:
        return None
    if not (agency.confident and signature.confident):
        return None
    if signature.confident & agency.possible or agency.confident & signature.possible:
        return None
    if record is not None and record.key in signature.possible:
        return None
    return RequesterSignal(
        SignalKind.SIGNATURE_MISMATCH,
        f"the signature names {_names(context.registry, signature.confident)}, "
        f"the request names {_names(context.registry, agency.confident)}",
    )


def assess_requester(submission: Submission, registry: AgencyRegistry) -> RequesterEvidence:
    """Every identity signal the request carries, in a stable order."""
    address = submission.requester.contact_email
    domain = domain_of(address) if address else None
    record = registry.lookup(domain) if domain is not None else None
    instrument = submission.instrument
    signature_text = " ".join(
        part
        for part in (instrument.issued_by, _signature_block(instrument.document_text or ""))
        if part
    )
    context = _Context(
        submission,
        registry,
        domain,
        record,
        registry.named_in(submission.requester.agency),
        registry.named_in(signature_text),
    )
    signals = [s for s in (_domain_signal(context), _signature_agency(context)) if s is not None]
    for signal in _address_signals(context):
        if signal not in signals:
            signals.append(signal)
    return RequesterEvidence(domain, record, tuple(signals))
