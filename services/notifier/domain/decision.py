"""Whether, and when, the platform tells a user about a request for their data.

Pure functions, no I/O. ``decide_notice`` is called when a request is classified and
again on every amendment; ``may_send_now`` is the last safety check right before a
notice leaves. Law and platform practice behind every rule: shared/docs/domain.md,
sections 1.4 (gags), 4 (user notification) and 6 (decision defaults).

Counsel's override of the verdict (``domain.counsel``) supersedes the classifier's for
every rule. Order of the rules (first match wins), from the most to the least binding:

1. statutory secrecy: FISA (never), wiretap (never: the court notifies), NSL and
   pen/trap (held until lifted in writing);
   (also under the classifier's own authority when counsel overrode it: an override
   never lifts a statute's secrecy, only a written lift does);
   counsel found the requester to be a fraud, or withheld this notice for good;
2. the request is withdrawn;
3. nothing of the user's is at stake: technical-assistance orders, preservation only;
4. the requester is not yet verified (until counsel records that it was);
5. a foreign secrecy claim; no legal process at all (so no gag binds either); a court
   gag in force (2705(b) and the like, or one the classifier found in the document even
   when the submission's authority field is empty: NDO_PRESENT);
6. a demand for the company's own records (no account, no data category);
7. nothing will be produced (push back, clarification); a private litigant pushed
   back on whose demand still reaches some non-content is told all the same;
8. no specific account (this target not named or not found, reverse search warrant);
9. emergency, child-safety (a child endangered by the account holder, never a minor who
   holds the account) and counter-productive exceptions (terrorism, or a requester's
   reasoned plea that notice would defeat its investigation), unless counsel ended
   that hold for this account;
10. notice now: gag expired or lifted, notice to enable a challenge, non-binding secrecy
   demand, removal notice, or the platform's default pre-disclosure notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from services.notifier.domain.counsel import NO_COUNSEL, CounselState
from shared.accounts import Account
from shared.amendments import Amendment, effective_state
from shared.counsel import HoldKind
from shared.events import NoticeDecision
from shared.submission import Nondisclosure, Submission, to_utc
from shared.verdict import RecommendedAction, TargetMatch, Verdict


class NotifyReason:
    """Notify reason codes, domain.md section 4.3."""

    POLICY_DEFAULT_NOTICE = "POLICY_DEFAULT_NOTICE"
    NOTICE_TO_ENABLE_CHALLENGE = "NOTICE_TO_ENABLE_CHALLENGE"
    NDO_EXPIRED = "NDO_EXPIRED"
    NONBINDING_SECRECY_REQUEST = "NONBINDING_SECRECY_REQUEST"
    NDO_ACTIVE_UNTIL_EXPIRY = "NDO_ACTIVE_UNTIL_EXPIRY"
    NDO_INDEFINITE_SEEK_LIMIT = "NDO_INDEFINITE_SEEK_LIMIT"
    STATUTORY_SECRECY = "STATUTORY_SECRECY"
    NSL_NONDISCLOSURE = "NSL_NONDISCLOSURE"
    FISA_SECRECY = "FISA_SECRECY"
    EMERGENCY_DEFER = "EMERGENCY_DEFER"
    CHILD_SAFETY_EXCEPTION = "CHILD_SAFETY_EXCEPTION"
    COUNTERPRODUCTIVE_EXCEPTION = "COUNTERPRODUCTIVE_EXCEPTION"
    FOREIGN_CONFIDENTIALITY_UNRESOLVED = "FOREIGN_CONFIDENTIALITY_UNRESOLVED"
    VERIFY_REQUESTER_FIRST = "VERIFY_REQUESTER_FIRST"
    #: The same requester's same instrument submitted again (through another channel,
    #: under another reference): the original's notices are the only ones.
    DUPLICATE_SUBMISSION = "DUPLICATE_SUBMISSION"
    PRESERVATION_ONLY = "PRESERVATION_ONLY"
    REQUEST_WITHDRAWN = "REQUEST_WITHDRAWN"
    NO_DISCLOSURE_PLANNED = "NO_DISCLOSURE_PLANNED"
    NO_SPECIFIC_ACCOUNT = "NO_SPECIFIC_ACCOUNT"
    NOT_USER_DATA_REQUEST = "NOT_USER_DATA_REQUEST"
    REMOVAL_NOTICE_POLICY = "REMOVAL_NOTICE_POLICY"
    #: Counsel's verification of the requester failed: the request may be a fraud.
    SUSPECTED_FRAUD = "SUSPECTED_FRAUD"
    #: Counsel decided this notice is never sent.
    COUNSEL_WITHHELD = "COUNSEL_WITHHELD"


@dataclass(frozen=True)
class NoticePolicy:
    """The tunable parts of the notice rules. Counsel owns these values."""

    #: How often legal looks again at a notice withheld without an end date
    #: (indefinite gag, NSL, pen/trap, foreign secrecy, counter-productive exception).
    #: DOJ's 2017 policy expects gags of a year or less; we look far more often.
    withheld_review_interval: timedelta = timedelta(days=90)
    #: How long before a dated gag ends legal checks whether it is being renewed.
    renewal_check_lead: timedelta = timedelta(days=14)
    #: After an emergency disclosure, when legal checks whether the emergency has
    #: passed and the user can be told (Google, Meta: notice once it is over).
    emergency_review_after: timedelta = timedelta(days=30)
    #: How soon legal should chase verification of an unverified requester.
    verification_review_after: timedelta = timedelta(days=2)
    #: Words in the stated purpose or emergency justification that make notice
    #: counter-productive without a formal gag (X, Meta, Reddit: terrorism).
    counterproductive_terms: tuple[str, ...] = ("terroris",)
    #: Reasons a requester gives, with its own (non-binding) plea for silence, that
    #: notice would defeat the investigation: counsel weighs them before anyone is told.
    #: Never applied to an unmasking the user must be able to contest.
    counterproductive_reasons: tuple[str, ...] = (
        "tip off",
        "tipped off",
        "alert the account holder",
        "alert the suspect",
        "still active",
        "destruction of evidence",
        "destroy evidence",
        "flee",
        "jeopardise the investigation",
        "jeopardize the investigation",
        "impede the investigation",
        "compromise the investigation",
    )
    #: Words that mark a child-exploitation or child-endangerment matter: a child put
    #: at risk by the account holder. A minor who is the account holder, or whose own
    #: messages are sought, is not protected by silence (domain.md 4.1, 4.3).
    child_safety_terms: tuple[str, ...] = (
        "child sexual",
        "child exploitation",
        "child abuse",
        "child pornography",
        "csam",
        "grooming",
        "groomed",
        "sextortion",
        "enticement of a minor",
        "missing child",
        "child victim",
        "minor victim",
        "child endangerment",
    )


DEFAULT_NOTICE_POLICY = NoticePolicy()

#: Authorities whose own statute keeps the platform silent, whatever the paperwork says.
FISA_CODES = frozenset(
    {"FISA_BUSINESS_RECORDS_1861", "FISA_702_DIRECTIVE", "FISA_ELECTRONIC_SURVEILLANCE_ORDER"}
)
NSL_CODE = "NSL_2709"
PEN_TRAP_CODE = "PEN_TRAP_ORDER"
WIRETAP_CODE = "WIRETAP_ORDER"
NATIONAL_SECURITY_FAMILY = "national_security"

#: Orders to build or break something rather than hand over a user's data.
NOT_USER_DATA_CODES = frozenset({"ALL_WRITS_ACT_ORDER"})
#: Requests that identify unknown people instead of naming an account.
NO_SPECIFIC_ACCOUNT_CODES = frozenset({"REVERSE_SEARCH_WARRANT"})
#: Foreign regimes with statutory confidentiality even when no secrecy order is marked.
FOREIGN_STATUTORY_CONFIDENTIALITY_CODES = frozenset({"IN_IT_ACT_69", "IN_IT_ACT_69A_BLOCKING"})
#: Foreign-issued authorities in the "international" family (an MLAT is executed by a
#: US judge, so its gag is a US order, not a foreign one).
FOREIGN_ISSUED_INTERNATIONAL_CODES = frozenset({"CLOUD_ACT_AGREEMENT_ORDER", "EU_PRODUCTION_ORDER"})
US = "US"

#: Factors (domain.md section 5, plus the classifier's informational ones) read here.
F_WITHDRAWN = "WITHDRAWN_BY_REQUESTER"
F_FOREIGN_SECRECY = "FOREIGN_SECRECY_CLAIMED"
F_TECHNICAL_ASSISTANCE = "COMPELLED_TECHNICAL_ASSISTANCE"
F_REQUESTER_UNVERIFIED = "REQUESTER_IDENTITY_UNVERIFIED"
F_NO_LEGAL_PROCESS = "NO_LEGAL_PROCESS"
F_SENSITIVE_ACTIVITY = "SENSITIVE_ACTIVITY_DATA"
F_UNMASKING = "ANON_SPEAKER_UNMASKING"
F_NONBINDING_SECRECY = "NONBINDING_SECRECY_DEMAND"
#: The classifier found a binding gag in force (a court's order, even when the
#: submission's authority field is vague).
F_NDO_PRESENT = "NDO_PRESENT"
#: With an unmasking, any of these makes it a demand the speaker must be able to
#: contest before being identified (Dendrite, Cahill; Twitter v. DHS; Reddit 2026).
CONTESTABLE_UNMASKING_FACTORS = frozenset(
    {
        "POLITICAL_SPEECH_CRITICAL_OF_REQUESTER",
        "JOURNALIST_OR_SOURCE",
        "ACTIVIST_OR_PROTECTED_GROUP_TARGET",
        "AUTHORITY_SCOPE_MISMATCH",
        "IP_CLAIM_PRETEXT_POSSIBLE",
        "NO_OFFENSE_SHOWN",
    }
)
#: Families in which a private party asks to identify a speaker (civil unmasking
#: standards require notice to the speaker).
PRIVATE_UNMASKING_FAMILIES = frozenset({"civil"})

#: Actions under which nothing will be produced, so there is no disclosure to notify of.
#: A private litigant pushed back on can still go to court (and some non-content may
#: lawfully follow), so its target is told all the same (domain.md 1.2).
NOTHING_PRODUCED_ACTIONS = frozenset(
    {RecommendedAction.PUSH_BACK, RecommendedAction.REQUEST_CLARIFICATION}
)
PRIVATE_LITIGANT = "private_litigant"
#: Families whose empty ``data_requested`` means something else than company records.
NOT_COMPANY_RECORDS_FAMILIES = frozenset({"removal", "preservation"})


class NoticeRuling(BaseModel):
    """The notice decision for one target account."""

    model_config = ConfigDict(frozen=True)

    decision: NoticeDecision
    #: A notify reason code, domain.md section 4.3 (``NotifyReason``).
    reason: str
    #: For a delayed notice with a known end (a dated gag): the earliest send time.
    not_before: datetime | None = None
    #: When legal should look again at a withheld or held notice.
    review_after: datetime | None = None


# --- gags ------------------------------------------------------------------------------


def gag_in_force(nondisclosure: Nondisclosure, as_of: datetime) -> bool:
    """A non-disclosure order binds at ``as_of``: ordered, resting on a stated legal
    authority, and not yet expired (expired when ``expires_at <= as_of``). A secrecy
    demand with no authority is not an order (domain.md 4.2, last row)."""
    if not nondisclosure.ordered or not (nondisclosure.authority or "").strip():
        return False
    return nondisclosure.expires_at is None or to_utc(nondisclosure.expires_at) > to_utc(as_of)


def _amendments_in_force(amendments: Iterable[Amendment], as_of: datetime) -> list[Amendment]:
    return [a for a in amendments if to_utc(a.effective_at) <= to_utc(as_of)]


def _gag_ever_ordered(
    submission: Submission, amendments: Sequence[Amendment], as_of: datetime
) -> bool:
    """Was the request ever under a real (authority-backed) gag up to ``as_of``?"""
    orders = [submission.instrument.nondisclosure] + [
        a.nondisclosure for a in _amendments_in_force(amendments, as_of) if a.nondisclosure
    ]
    return any(o.ordered and (o.authority or "").strip() for o in orders)


def _statutory_secrecy_lifted(
    amendments: Sequence[Amendment], nondisclosure: Nondisclosure, as_of: datetime
) -> bool:
    """NSL and pen/trap secrecy comes from the statute, not from the paperwork: it ends
    only when a later written decision (an amendment) lifts it or sets an end date that
    has passed."""
    changed_by_amendment = any(
        a.nondisclosure is not None for a in _amendments_in_force(amendments, as_of)
    )
    return changed_by_amendment and not gag_in_force(nondisclosure, as_of)


def _foreign_secrecy_claimed(
    submission: Submission, verdict: Verdict, nondisclosure: Nondisclosure, as_of: datetime
) -> bool:
    code, family = verdict.authority.code, verdict.authority.family
    if code in FOREIGN_STATUTORY_CONFIDENTIALITY_CODES:
        return True
    foreign_issued = (
        family == "foreign"
        or code in FOREIGN_ISSUED_INTERNATIONAL_CODES
        or (submission.requester.country != US and code != "MLAT_REQUEST")
    )
    if not foreign_issued or not nondisclosure.ordered:
        return False
    expires_at = nondisclosure.expires_at
    return expires_at is None or to_utc(expires_at) > to_utc(as_of)


# --- other facts ------------------------------------------------------------------------


def _mentions(submission: Submission, terms: Iterable[str], *, document: bool = False) -> bool:
    parts = [submission.stated_purpose, submission.emergency.justification]
    if document:
        parts.append(submission.instrument.document_text)
    text = " ".join(part or "" for part in parts).casefold()
    return any(term.casefold() in text for term in terms)


def _withdrawal_letter(submission: Submission, factors: frozenset[str]) -> bool:
    """The document itself withdraws an earlier demand and asks for nothing."""
    if F_WITHDRAWN in factors:
        return True
    if submission.data_requested:
        return False
    heading = " ".join(
        part or "" for part in (submission.instrument.cited_authority, submission.stated_purpose)
    ).casefold()
    return "withdraw" in heading or "rescind" in heading


def _is_emergency(submission: Submission, verdict: Verdict) -> bool:
    return verdict.authority.family == "emergency" or submission.emergency.claimed


def _child_safety_matter(
    submission: Submission, factors: frozenset[str], account: Account | None, policy: NoticePolicy
) -> bool:
    """A child is endangered and the account is the suspected adult. Where the minor is
    the account holder, or the inquiry is about sensitive activity (health,
    reproduction), the minor is a subject rather than a victim and the exception does
    not apply; a minor merely mentioned is not a child-safety matter either."""
    if account is not None and account.minor:
        return False
    if F_SENSITIVE_ACTIVITY in factors:
        return False
    return _mentions(submission, policy.child_safety_terms, document=True)


def _contestable_unmasking(verdict: Verdict, factors: frozenset[str]) -> bool:
    if F_UNMASKING not in factors:
        return False
    return (
        verdict.recommended_action is RecommendedAction.CHALLENGE
        or verdict.authority.family in PRIVATE_UNMASKING_FAMILIES
        or bool(factors & CONTESTABLE_UNMASKING_FACTORS)
    )


def _ruling(
    decision: NoticeDecision,
    reason: str,
    *,
    not_before: datetime | None = None,
    review_after: datetime | None = None,
) -> NoticeRuling:
    return NoticeRuling(
        decision=decision, reason=reason, not_before=not_before, review_after=review_after
    )


@dataclass(frozen=True)
class _Facts:
    submission: Submission
    verdict: Verdict
    amendments: Sequence[Amendment]
    target: TargetMatch | None
    account: Account | None
    as_of: datetime
    policy: NoticePolicy
    counsel: CounselState = NO_COUNSEL
    factors: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", frozenset(f.code for f in self.verdict.risk.factors))


# --- the decision ----------------------------------------------------------------------


def decide_notice(
    *,
    submission: Submission,
    verdict: Verdict,
    amendments: Sequence[Amendment],
    target: TargetMatch | None,
    account: Account | None,
    as_of: datetime,
    policy: NoticePolicy = DEFAULT_NOTICE_POLICY,
    counsel: CounselState = NO_COUNSEL,
) -> NoticeRuling:
    """Decide notice for one target account of one request, as of ``as_of``.

    ``verdict`` is the classifier's; ``counsel`` what legal staff decided (its override
    of the verdict included). ``target=None`` means the request names no specific
    account; ``account`` is the directory entry the target matched (None when it
    matched none)."""
    as_of = to_utc(as_of)
    classifier = _Facts(submission, verdict, amendments, target, account, as_of, policy)
    facts = replace(classifier, verdict=counsel.applied_to(verdict), counsel=counsel)
    state = effective_state(submission, amendments, as_of)
    nondisclosure = state.nondisclosure
    review_later = as_of + policy.withheld_review_interval

    statutory = _statutory_secrecy(facts, nondisclosure, review_later)
    if statutory is None and counsel.overrides_authority:
        statutory = _statutory_secrecy(classifier, nondisclosure, review_later)
    if statutory is not None:
        return statutory
    if counsel.suspected_fraud:
        return _ruling(NoticeDecision.NEVER, NotifyReason.SUSPECTED_FRAUD)
    if counsel.withholds(target, account):
        return _ruling(NoticeDecision.NEVER, NotifyReason.COUNSEL_WITHHELD)

    if state.withdrawn or _withdrawal_letter(submission, facts.factors):
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.REQUEST_WITHDRAWN)

    if verdict.authority.code in NOT_USER_DATA_CODES or F_TECHNICAL_ASSISTANCE in facts.factors:
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.NOT_USER_DATA_REQUEST)
    if verdict.authority.family == "preservation":
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.PRESERVATION_ONLY)

    if F_REQUESTER_UNVERIFIED in facts.factors and not counsel.requester_verified:
        return _ruling(
            NoticeDecision.DELAYED,
            NotifyReason.VERIFY_REQUESTER_FIRST,
            review_after=as_of + policy.verification_review_after,
        )

    if F_FOREIGN_SECRECY in facts.factors or _foreign_secrecy_claimed(
        submission, verdict, nondisclosure, as_of
    ):
        return _ruling(
            NoticeDecision.DELAYED,
            NotifyReason.FOREIGN_CONFIDENTIALITY_UNRESOLVED,
            review_after=review_later,
        )
    if F_NO_LEGAL_PROCESS in facts.factors:
        # no process at all, so no gag either (an "NSL" from a sheriff binds no one);
        # nothing is produced and nobody is told
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.NO_DISCLOSURE_PLANNED)
    if gag_in_force(nondisclosure, as_of) or _gag_found_in_document(facts, nondisclosure):
        return _court_gag(nondisclosure, as_of, policy, review_later)

    if _company_records_only(submission, verdict):
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.NOT_USER_DATA_REQUEST)

    if _nothing_will_be_produced(facts):
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.NO_DISCLOSURE_PLANNED)

    if _no_specific_account(facts):
        return _ruling(NoticeDecision.NOT_APPLICABLE, NotifyReason.NO_SPECIFIC_ACCOUNT)

    exception = _notice_exception(facts)
    if exception is not None:
        return exception

    return _notice_now(facts)


def _statutory_secrecy(
    facts: _Facts, nondisclosure: Nondisclosure, review_later: datetime
) -> NoticeRuling | None:
    code, family = facts.verdict.authority.code, facts.verdict.authority.family
    if code in FISA_CODES or (family == NATIONAL_SECURITY_FAMILY and code != NSL_CODE):
        return _ruling(NoticeDecision.NEVER, NotifyReason.FISA_SECRECY)
    if code == WIRETAP_CODE:
        # The court serves the inventory notice on those intercepted; we never do.
        return _ruling(NoticeDecision.NEVER, NotifyReason.STATUTORY_SECRECY)
    lifted = _statutory_secrecy_lifted(facts.amendments, nondisclosure, facts.as_of)
    if code == NSL_CODE and not lifted:
        return _ruling(
            NoticeDecision.DELAYED, NotifyReason.NSL_NONDISCLOSURE, review_after=review_later
        )
    if code == PEN_TRAP_CODE and not lifted:
        return _ruling(
            NoticeDecision.DELAYED, NotifyReason.STATUTORY_SECRECY, review_after=review_later
        )
    return None


def _court_gag(
    nondisclosure: Nondisclosure, as_of: datetime, policy: NoticePolicy, review_later: datetime
) -> NoticeRuling:
    if nondisclosure.expires_at is None:
        return _ruling(
            NoticeDecision.DELAYED,
            NotifyReason.NDO_INDEFINITE_SEEK_LIMIT,
            review_after=review_later,
        )
    expires_at = to_utc(nondisclosure.expires_at)
    return _ruling(
        NoticeDecision.DELAYED,
        NotifyReason.NDO_ACTIVE_UNTIL_EXPIRY,
        not_before=expires_at,
        review_after=max(as_of, expires_at - policy.renewal_check_lead),
    )


def _gag_found_in_document(facts: _Facts, nondisclosure: Nondisclosure) -> bool:
    """The classifier found a binding gag in the document (NDO_PRESENT) although the
    submission's authority field is empty: it holds until an accepted amendment says
    otherwise or its stated end passes."""
    if F_NDO_PRESENT not in facts.factors:
        return False
    if any(
        a.nondisclosure is not None for a in _amendments_in_force(facts.amendments, facts.as_of)
    ):
        return False
    expires_at = nondisclosure.expires_at
    return expires_at is None or to_utc(expires_at) > facts.as_of


def _company_records_only(submission: Submission, verdict: Verdict) -> bool:
    """A demand for the company's own records: no account named and no user data
    category asked for (a committee's subpoena for moderation policies)."""
    return (
        not submission.data_requested
        and not submission.targets
        and verdict.authority.family not in NOT_COMPANY_RECORDS_FAMILIES
    )


def _nothing_will_be_produced(facts: _Facts) -> bool:
    """The demand can produce nothing as it stands: no legal process at all, or an
    instrument the platform returns. A private litigant pushed back on whose demand
    still reaches some non-content can go to court for it, so its target is told; one
    that asks only for content (barred by the SCA) produces nothing (domain.md 1.2)."""
    if facts.verdict.authority.family == "unknown" or F_NO_LEGAL_PROCESS in facts.factors:
        return True
    if facts.verdict.recommended_action not in NOTHING_PRODUCED_ACTIONS:
        return False
    return not (
        facts.submission.requester.agency_type == PRIVATE_LITIGANT
        and facts.verdict.recommended_action is RecommendedAction.PUSH_BACK
        and facts.verdict.data_scope.compellable
    )


def _no_specific_account(facts: _Facts) -> bool:
    """This ruling's own target is not an identified account (the request's other
    targets may be)."""
    return (
        facts.target is None
        or not facts.target.found
        or facts.account is None
        or facts.verdict.authority.code in NO_SPECIFIC_ACCOUNT_CODES
    )


def _notice_exception(facts: _Facts) -> NoticeRuling | None:
    """Platform-policy exceptions where notice would endanger someone or defeat the
    investigation (X, Meta, Google, Reddit, Discord: domain.md 4.1)."""
    policy, as_of = facts.policy, facts.as_of

    def holds(kind: HoldKind) -> bool:
        return not facts.counsel.hold_ended(kind, facts.target, facts.account)

    if holds(HoldKind.CHILD_SAFETY_EXCEPTION) and _child_safety_matter(
        facts.submission, facts.factors, facts.account, policy
    ):
        return _ruling(
            NoticeDecision.DELAYED,
            NotifyReason.CHILD_SAFETY_EXCEPTION,
            review_after=as_of + policy.withheld_review_interval,
        )
    if holds(HoldKind.EMERGENCY_DEFER) and _is_emergency(facts.submission, facts.verdict):
        return _ruling(
            NoticeDecision.DELAYED,
            NotifyReason.EMERGENCY_DEFER,
            review_after=as_of + policy.emergency_review_after,
        )
    if holds(HoldKind.COUNTERPRODUCTIVE_EXCEPTION) and (
        _mentions(facts.submission, policy.counterproductive_terms) or _reasoned_plea(facts)
    ):
        return _ruling(
            NoticeDecision.DELAYED,
            NotifyReason.COUNTERPRODUCTIVE_EXCEPTION,
            review_after=as_of + policy.withheld_review_interval,
        )
    return None


def _reasoned_plea(facts: _Facts) -> bool:
    """The requester asks for silence and says why notice would defeat its
    investigation, and the demand is not one the user must be able to contest."""
    if F_NONBINDING_SECRECY not in facts.factors or _contestable_unmasking(
        facts.verdict, facts.factors
    ):
        return False
    if facts.verdict.recommended_action is RecommendedAction.CHALLENGE:
        return False
    return _mentions(facts.submission, facts.policy.counterproductive_reasons, document=True)


def _notice_now(facts: _Facts) -> NoticeRuling:
    if _gag_ever_ordered(facts.submission, facts.amendments, facts.as_of):
        reason = NotifyReason.NDO_EXPIRED
    elif facts.verdict.recommended_action is RecommendedAction.CHALLENGE or (
        _contestable_unmasking(facts.verdict, facts.factors)
    ):
        reason = NotifyReason.NOTICE_TO_ENABLE_CHALLENGE
    elif facts.submission.instrument.nondisclosure.ordered or F_NONBINDING_SECRECY in facts.factors:
        reason = NotifyReason.NONBINDING_SECRECY_REQUEST
    elif facts.verdict.authority.family == "removal":
        reason = NotifyReason.REMOVAL_NOTICE_POLICY
    else:
        reason = NotifyReason.POLICY_DEFAULT_NOTICE
    return _ruling(NoticeDecision.NOW, reason)


# --- the safety check before a send ----------------------------------------------------


def may_send_now(
    *,
    submission: Submission,
    amendments: Sequence[Amendment],
    ruling: NoticeRuling,
    as_of: datetime,
) -> bool:
    """Last check right before a notice leaves, on every amendment known at ``as_of``:
    never while a non-disclosure order is in force, never once the request is
    withdrawn, never before ``not_before``, and only for a ruling that allows notice
    (``now``, or ``delayed`` with a known end that has been reached)."""
    as_of = to_utc(as_of)
    state = effective_state(submission, amendments, as_of)
    if state.withdrawn or gag_in_force(state.nondisclosure, as_of):
        return False
    if ruling.decision is NoticeDecision.NOW:
        return ruling.not_before is None or to_utc(ruling.not_before) <= as_of
    if ruling.decision is NoticeDecision.DELAYED:
        return ruling.not_before is not None and to_utc(ruling.not_before) <= as_of
    return False
