"""THE SAFETY INVARIANT of user notice, as a property over generated requests,
amendment histories and clocks:

* no notice is sent while a non-disclosure order is in force (per ``effective_state``
  on every amendment known at the send time);
* no notice is sent once the request is withdrawn;
* nothing is ever sent under FISA or wiretap secrecy, nor under NSL or pen/trap secrecy
  before a written lift;
* no (request, account, channel) is ever notified twice, even when events are
  delivered more than once;
* whatever legal staff decide (the requester verified or found a fraud, the verdict
  overridden, an emergency, child-safety or counter-productive hold ended, a notice
  withheld for good), none of the above is ever broken: no decision of counsel can
  release a notice while a binding gag is in force; and nothing is sent once counsel
  found the requester a fraud or withheld the account's notice.

The notifier's lifecycle is simulated by a small in-memory model that uses the pure
functions the way the service does (``planning.plan_request`` on classification and on
every amendment; the dispatcher re-deciding and calling ``may_send_now`` right before
each send; one notice row per idempotency key).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.notifier.domain.counsel import CounselState, aimed_at, counsel_state
from services.notifier.domain.decision import NoticeRuling, decide_notice, may_send_now
from services.notifier.domain.notice import notice_id_for
from shared.accounts import Account
from shared.amendments import Amendment, effective_state
from shared.counsel import (
    AuthorityOverride,
    CounselTarget,
    HoldKind,
    VerificationMethod,
    VerificationOutcome,
)
from shared.events import (
    CounselAction,
    HoldEnded,
    NoticeDecision,
    NoticeWithheldForGood,
    RequesterVerificationRecorded,
    VerdictOverridden,
)
from shared.submission import Nondisclosure, Submission
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
    TargetMatch,
    Verdict,
)

EXAMPLES = 3000
T0 = datetime(2025, 1, 1, tzinfo=UTC)
HORIZON_HOURS = 24 * 120
NEVER_NOTIFIED_CODES = {"FISA_702_DIRECTIVE", "FISA_BUSINESS_RECORDS_1861", "WIRETAP_ORDER"}
SECRET_UNTIL_LIFTED_CODES = {"NSL_2709", "PEN_TRAP_ORDER"}

AUTHORITIES = [
    ("GRAND_JURY_SUBPOENA", "subpoena", "subpoena"),
    ("SCA_2703D_ORDER", "court_order", "court_order"),
    ("SCA_SEARCH_WARRANT", "warrant", "search_warrant"),
    ("CIVIL_SUBPOENA", "civil", "civil_subpoena"),
    ("CUSTOMS_SUMMONS_1509", "administrative", "administrative_summons"),
    ("NSL_2709", "national_security", "national_security_letter"),
    ("FISA_702_DIRECTIVE", "national_security", "other"),
    ("FISA_BUSINESS_RECORDS_1861", "national_security", "court_order"),
    ("PEN_TRAP_ORDER", "surveillance", "court_order"),
    ("WIRETAP_ORDER", "surveillance", "court_order"),
    ("EMERGENCY_DISCLOSURE_REQUEST", "emergency", "emergency_request"),
    ("PRESERVATION_REQUEST_2703F", "preservation", "preservation_request"),
    ("FOREIGN_DIRECT_REQUEST", "foreign", "foreign_order"),
    ("FOREIGN_REMOVAL_ORDER", "removal", "removal_order"),
    ("MLAT_REQUEST", "international", "mlat_request"),
    ("UNKNOWN_AUTHORITY", "unknown", "other"),
]
FACTORS = [
    "ANON_SPEAKER_UNMASKING",
    "POLITICAL_SPEECH_CRITICAL_OF_REQUESTER",
    "MINOR_INVOLVED",
    "SENSITIVE_ACTIVITY_DATA",
    "REQUESTER_IDENTITY_UNVERIFIED",
    "UNVERIFIED_EMERGENCY",
    "NONBINDING_SECRECY_DEMAND",
    "NDO_PRESENT",
    "NDO_INDEFINITE",
    "COMPELLED_TECHNICAL_ASSISTANCE",
    "DRAGNET_REVERSE_SEARCH",
    "OVERBREADTH",
]


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def spec_gag_in_force(nondisclosure: Nondisclosure, when: datetime) -> bool:
    """The invariant's own reading of domain.md 0 and 4.2 (not the code under test):
    an order resting on a legal authority binds until ``expires_at`` (exclusive)."""
    return (
        nondisclosure.ordered
        and bool((nondisclosure.authority or "").strip())
        and (nondisclosure.expires_at is None or nondisclosure.expires_at > when)
    )


# --- generated inputs ------------------------------------------------------------------

hours = st.integers(min_value=-24 * 30, max_value=HORIZON_HOURS)
hours_after_receipt = st.integers(min_value=0, max_value=HORIZON_HOURS)


@st.composite
def nondisclosures(draw: st.DrawFn) -> Nondisclosure:
    kind = draw(st.sampled_from(["none", "dated", "indefinite", "nonbinding", "lifted"]))
    if kind == "none":
        return Nondisclosure()
    if kind == "lifted":
        return Nondisclosure(ordered=False, authority="court order lifting the gag")
    if kind == "nonbinding":
        return Nondisclosure(ordered=True, authority=None)
    expires_at = at(draw(hours)) if kind == "dated" else None
    return Nondisclosure(ordered=True, authority="18 U.S.C. 2705(b)", expires_at=expires_at)


@dataclass(frozen=True)
class Arriving:
    """An amendment, and when the notifier learns of it (before or after it takes effect)."""

    amendment: Amendment
    arrives_at: datetime


@st.composite
def amendment_histories(draw: st.DrawFn) -> list[Arriving]:
    history: list[Arriving] = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        effective = draw(st.integers(min_value=0, max_value=HORIZON_HOURS))
        arrives = max(0, effective + draw(st.integers(min_value=-72, max_value=240)))
        kind = draw(st.sampled_from(["gag", "gag", "lift", "withdraw", "note"]))
        amendment = Amendment(
            nondisclosure=draw(nondisclosures())
            if kind == "gag"
            else (Nondisclosure(ordered=False) if kind == "lift" else None),
            withdrawn=kind == "withdraw",
            effective_at=at(effective),
        )
        history.append(Arriving(amendment, at(arrives)))
    return history


@dataclass(frozen=True)
class CounselArriving:
    """A decision of counsel, and when the notifier learns of it."""

    action: CounselAction
    arrives_at: datetime


@st.composite
def counsel_actions(draw: st.DrawFn, handles: list[str]) -> CounselAction:
    """Any decision of counsel, the ones that release notices most often."""
    common = {"request_id": "req-1", "author": "legal-ops", "recorded_at": T0, "reason": "r"}
    target = draw(st.one_of(st.none(), st.sampled_from([CounselTarget(handle=h) for h in handles])))
    kind = draw(st.sampled_from(["verify", "verify", "end", "end", "end", "override", "withhold"]))
    if kind == "verify":
        return RequesterVerificationRecorded(
            **common,
            method=draw(st.sampled_from(list(VerificationMethod))),
            contact="duty officer",
            contacted_at=T0,
            outcome=draw(
                st.sampled_from([VerificationOutcome.VERIFIED] * 3 + [VerificationOutcome.FAILED])
            ),
        )
    if kind == "end":
        return HoldEnded(**common, hold=draw(st.sampled_from(list(HoldKind))), target=target)
    if kind == "withhold":
        return NoticeWithheldForGood(**common, target=target)
    code, family, _ = draw(st.sampled_from(AUTHORITIES))
    return VerdictOverridden(
        **common,
        authority=draw(
            st.one_of(
                st.none(),
                st.just(AuthorityOverride(code=code, family=family, jurisdiction="US")),
            )
        ),
        risk_level=draw(st.one_of(st.none(), st.sampled_from(list(RiskLevel)))),
        recommended_action=draw(st.sampled_from(list(RecommendedAction))),
    )


@dataclass(frozen=True)
class Scenario:
    submission: Submission
    verdict: Verdict
    accounts: tuple[Account | None, ...]
    history: tuple[Arriving, ...]
    classified_at: datetime
    ticks: tuple[datetime, ...]
    redelivered: frozenset[int]
    counsel: tuple[CounselArriving, ...] = ()


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    code, family, instrument_type = draw(
        st.one_of(st.sampled_from(AUTHORITIES[:3]), st.sampled_from(AUTHORITIES))
    )
    target_count = draw(st.integers(min_value=1, max_value=2))
    handles = [f"@user{i}" for i in range(target_count)]
    submission = Submission.model_validate(
        {
            "external_ref": "REF-1",
            "received_via": "portal",
            "received_at": T0.isoformat(),
            "requester": {
                "agency": "Agency",
                "agency_type": "federal_law_enforcement",
                "country": draw(st.sampled_from(["US", "US", "BR"])),
            },
            "instrument": {
                "type": instrument_type,
                "nondisclosure": draw(nondisclosures()).model_dump(),
            },
            "targets": [{"handle": h} for h in handles],
            "data_requested": draw(
                st.lists(
                    st.sampled_from(["subscriber_identity", "ip_logs", "content"]),
                    unique=True,
                    min_size=1,
                    max_size=3,
                )
            ),
            "emergency": {"claimed": draw(st.sampled_from([False, False, True]))},
        }
    )
    accounts = tuple(
        draw(
            st.sampled_from(
                [
                    None,
                    Account(handle=h, platform_user_id=f"id{i}"),
                    Account(handle=h, platform_user_id=f"id{i}", email="u@example.org"),
                ]
            )
        )
        for i, h in enumerate(handles)
    )
    factors = draw(st.lists(st.sampled_from(FACTORS), unique=True, max_size=3))
    verdict = Verdict(
        policy_version="test",
        authority=Authority(code=code, family=family, jurisdiction="US", confidence=1.0),
        data_scope=DataScope(),
        risk=Risk(
            level=RiskLevel.MEDIUM,
            score=0,
            factors=tuple(RiskFactor(code=c, weight=0, evidence="generated") for c in factors),
        ),
        recommended_action=draw(
            st.one_of(st.just(RecommendedAction.COMPLY), st.sampled_from(list(RecommendedAction)))
        ),
        targets=tuple(
            TargetMatch(handle=h, found=a is not None)
            for h, a in zip(handles, accounts, strict=True)
        ),
    )
    history = draw(amendment_histories())
    counsel = [
        CounselArriving(draw(counsel_actions(handles)), at(draw(hours_after_receipt)))
        for _ in range(draw(st.integers(min_value=0, max_value=4)))
    ]
    # Clock ticks: random times plus every boundary a gag, amendment or counsel creates.
    boundaries = [a.arrives_at for a in history] + [a.amendment.effective_at for a in history]
    boundaries += [c.arrives_at for c in counsel]
    boundaries += [
        n.expires_at
        for n in [submission.instrument.nondisclosure]
        + [a.amendment.nondisclosure for a in history if a.amendment.nondisclosure]
        if n is not None and n.expires_at is not None
    ]
    random_ticks = [at(h) for h in draw(st.lists(hours, max_size=12))]
    ticks = tuple(sorted(t for t in boundaries + random_ticks if t >= T0))
    return Scenario(
        submission=submission,
        verdict=verdict,
        accounts=accounts,
        history=tuple(history),
        classified_at=at(draw(st.integers(min_value=0, max_value=48))),
        ticks=ticks,
        redelivered=frozenset(draw(st.sets(st.integers(min_value=-1, max_value=6), max_size=3))),
        counsel=tuple(counsel),
    )


# --- the lifecycle model -----------------------------------------------------------------


@dataclass
class NoticeRow:
    account: Account
    channel: str
    state: str  # scheduled | held | cancelled | sent
    not_before: datetime | None


@dataclass
class Sent:
    key: tuple[str, str, str]
    at: datetime
    known: tuple[Amendment, ...]
    account: Account
    counsel: tuple[CounselAction, ...] = ()


@dataclass
class NotifierModel:
    scenario: Scenario
    request_id: str = "req-1"
    known: list[Amendment] = field(default_factory=list)
    counsel: list[CounselAction] = field(default_factory=list)
    rows: dict[str, NoticeRow] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    classified: bool = False

    def _rule(self, index: int, when: datetime) -> NoticeRuling:
        s = self.scenario
        return decide_notice(
            submission=s.submission,
            verdict=s.verdict,
            amendments=tuple(self.known),
            target=s.verdict.targets[index],
            account=s.accounts[index],
            as_of=when,
            counsel=self.counsel_state(),
        )

    def counsel_state(self) -> CounselState:
        return counsel_state(self.counsel)

    def replan(self, when: datetime) -> None:
        """Like ``planning.plan_request`` + ``store.apply_plan``: a sent row is final."""
        if not self.classified:
            return
        for index, account in enumerate(self.scenario.accounts):
            if account is None:
                continue
            ruling = self._rule(index, when)
            channel = "email" if account.email else "webhook"
            notice_id = notice_id_for(self.request_id, account.platform_user_id or "", channel)
            row = self.rows.get(notice_id)
            if row is not None and row.state == "sent":
                continue
            not_before: datetime | None
            if ruling.decision is NoticeDecision.NOW:
                state, not_before = "scheduled", when
            elif ruling.decision is NoticeDecision.DELAYED:
                not_before = ruling.not_before
                state = "scheduled" if not_before is not None else "held"
            else:
                state, not_before = "cancelled", None
            self.rows[notice_id] = NoticeRow(account, channel, state, not_before)

    def tick(self, when: datetime) -> None:
        """Like the dispatcher: due rows are re-decided and checked right before sending."""
        s = self.scenario
        for notice_id, row in self.rows.items():
            if row.state != "scheduled" or row.not_before is None or row.not_before > when:
                continue
            index = s.accounts.index(row.account)
            ruling = self._rule(index, when)
            allowed = ruling.decision is NoticeDecision.NOW and may_send_now(
                submission=s.submission, amendments=tuple(self.known), ruling=ruling, as_of=when
            )
            if not allowed:
                continue
            assert notice_id == notice_id_for(
                self.request_id, row.account.platform_user_id or "", row.channel
            )
            row.state = "sent"
            key = (self.request_id, row.account.platform_user_id or "", row.channel)
            self.sent.append(Sent(key, when, tuple(self.known), row.account, tuple(self.counsel)))

    def run(self) -> None:
        s = self.scenario
        # (time, order, action): deliveries at equal times keep a fixed, generated order.
        steps: list[tuple[datetime, int, str, int]] = [(s.classified_at, 0, "classify", -1)]
        if -1 in s.redelivered:
            steps.append((s.classified_at + timedelta(hours=5), 0, "classify", -1))
        for i, arriving in enumerate(s.history):
            steps.append((arriving.arrives_at, 1, "amend", i))
            if i in s.redelivered:
                steps.append((arriving.arrives_at + timedelta(hours=1), 1, "amend", i))
        for i, arriving_counsel in enumerate(s.counsel):
            steps.append((arriving_counsel.arrives_at, 1, "counsel", i))
        steps += [(t, 2, "tick", -1) for t in s.ticks]
        for when, _order, action, index in sorted(steps, key=lambda step: step[:2]):
            if action == "classify":
                self.classified = True
                self.replan(when)
            elif action == "amend":
                amendment = s.history[index].amendment
                if amendment not in self.known:
                    self.known.append(amendment)
                self.replan(when)
            elif action == "counsel":
                self.counsel.append(s.counsel[index].action)
                self.replan(when)
            self.tick(when)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_notice_under_a_gag_after_withdrawal_or_twice(scenario: Scenario) -> None:
    model = NotifierModel(scenario)
    model.run()
    event("sent" if model.sent else "nothing sent")
    if scenario.counsel:
        event("counsel decided; " + ("sent" if model.sent else "nothing sent"))
    code = scenario.verdict.authority.code
    for sent in model.sent:
        state = effective_state(scenario.submission, sent.known, sent.at)
        assert not spec_gag_in_force(state.nondisclosure, sent.at), "sent under a gag"
        assert not state.withdrawn, "sent after withdrawal"
        assert code not in NEVER_NOTIFIED_CODES, "sent under FISA or wiretap secrecy"
        if code in SECRET_UNTIL_LIFTED_CODES:
            lifts = [
                a for a in sent.known if a.nondisclosure is not None and a.effective_at <= sent.at
            ]
            assert lifts, "sent under NSL or pen/trap secrecy without a written lift"
        decided = counsel_state(sent.counsel)
        assert not decided.suspected_fraud, "sent although counsel found the requester a fraud"
        target = next(t for t in scenario.verdict.targets if t.handle == sent.account.handle)
        assert not any(aimed_at(w, target, sent.account) for w in decided.withheld), (
            "sent although counsel withheld the notice for good"
        )
    assert all(n == 1 for n in Counter(s.key for s in model.sent).values()), "notified twice"


def plain_scenario() -> Scenario:
    """A plain request, nothing forbidding its notice; classified at T0."""
    submission = Submission.model_validate(
        {
            "external_ref": "REF-2",
            "received_via": "portal",
            "received_at": T0.isoformat(),
            "requester": {
                "agency": "Agency",
                "agency_type": "federal_law_enforcement",
                "country": "US",
            },
            "instrument": {"type": "subpoena"},
            "targets": [{"handle": "@user0"}],
            "data_requested": ["subscriber_identity"],
        }
    )
    verdict = Verdict(
        policy_version="test",
        authority=Authority(
            code="GRAND_JURY_SUBPOENA", family="subpoena", jurisdiction="US", confidence=1.0
        ),
        data_scope=DataScope(),
        risk=Risk(level=RiskLevel.LOW, score=0),
        recommended_action=RecommendedAction.COMPLY,
        targets=(TargetMatch(handle="@user0", found=True),),
    )
    scenario = Scenario(
        submission=submission,
        verdict=verdict,
        accounts=(Account(handle="@user0", platform_user_id="id0"),),
        history=(),
        classified_at=T0,
        ticks=(T0, at(1)),
        redelivered=frozenset({-1}),
    )
    return scenario


def test_the_model_does_send_when_nothing_forbids_it() -> None:
    """Guards against a vacuous property: a plain request is notified at once."""
    model = NotifierModel(plain_scenario())
    model.run()
    assert [s.key for s in model.sent] == [("req-1", "id0", "webhook")]


def test_the_model_sends_once_counsel_ends_an_emergency_hold() -> None:
    """Guards against a vacuous property over counsel: an emergency request is held,
    and notified once counsel ended the hold (no gag)."""
    base = plain_scenario()
    emergency = base.submission.model_copy(
        update={"emergency": base.submission.emergency.model_copy(update={"claimed": True})}
    )
    ended = HoldEnded(
        request_id="req-1",
        author="legal-ops",
        recorded_at=T0,
        reason="the emergency is over",
        hold=HoldKind.EMERGENCY_DEFER,
    )
    held = NotifierModel(replace(base, submission=emergency))
    held.run()
    assert held.sent == []
    released = NotifierModel(
        replace(base, submission=emergency, counsel=(CounselArriving(ended, at(1)),))
    )
    released.run()
    assert [(s.key, s.at) for s in released.sent] == [(("req-1", "id0", "webhook"), at(1))]
