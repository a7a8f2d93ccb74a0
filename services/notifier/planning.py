"""From a request's verdict and amendments to what should happen to each target's
notice. Pure: the handlers feed it what the store holds and act on what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.notifier.domain.counsel import NO_COUNSEL, CounselState, counsel_state
from services.notifier.domain.decision import NoticeRuling, NotifyReason, decide_notice
from services.notifier.domain.notice import notice_id_for
from services.notifier.store import NoticePlan, RequestRecord
from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.events import (
    NoticeDecision,
    NoticeEvent,
    NoticeTarget,
    NotificationScheduled,
    NotificationWithheld,
    RequestClassified,
)
from shared.submission import Submission, Target
from shared.verdict import TargetMatch, Verdict

EMAIL = "email"
WEBHOOK = "webhook"


@dataclass(frozen=True)
class TargetPlan:
    target: NoticeTarget
    ruling: NoticeRuling
    notice: NoticePlan
    #: The decision event to publish now (a sent notice is published when it is sent).
    event: NoticeEvent | None


def account_key(target: NoticeTarget, account: Account | None) -> str:
    """One key per account, however the demand named it: a target named by e-mail and
    again by handle is one account, so one notice."""
    if account is not None:
        return account.platform_user_id or account.handle.casefold()
    return target.platform_user_id or (target.handle or "").casefold()


def channel_for(account: Account | None) -> str:
    """E-mail when the account has an address, else the platform's in-app notice."""
    return EMAIL if account is not None and account.email else WEBHOOK


def target_matches(
    classified: RequestClassified, submission: Submission, accounts: AccountDirectory
) -> tuple[TargetMatch, ...]:
    """The verdict's targets with the identifiers the notifier needs: a v3 verdict
    names each by its place in the submission (no personal data), so the handle comes
    from the submission and the user id from the account directory, as the classifier
    resolved them; a v1/v2 verdict still carries them."""
    matches: list[TargetMatch] = []
    for reference in classified.targets:
        if reference.handle is not None or reference.platform_user_id is not None:
            matches.append(
                TargetMatch(
                    handle=reference.handle,
                    platform_user_id=reference.platform_user_id,
                    found=reference.found,
                )
            )
            continue
        if reference.index is None or reference.index > len(submission.targets):
            raise ValueError(
                f"the verdict names target {reference.index} of a submission with "
                f"{len(submission.targets)} target(s)"
            )
        target = submission.targets[reference.index - 1]
        account = accounts.find(target)
        matches.append(
            TargetMatch(
                handle=target.handle,
                platform_user_id=(
                    account.platform_user_id
                    if account is not None and account.platform_user_id
                    else target.platform_user_id
                ),
                found=reference.found,
            )
        )
    return tuple(matches)


def verdict_of(classified: RequestClassified, targets: tuple[TargetMatch, ...]) -> Verdict:
    judged = classified.model_dump(include=set(Verdict.model_fields) - {"targets"})
    return Verdict.model_validate({**judged, "targets": targets})


def plan_request(
    classified: RequestClassified,
    submission: Submission,
    amendments: tuple[Amendment, ...],
    accounts: AccountDirectory,
    as_of: datetime,
    counsel: CounselState = NO_COUNSEL,
) -> list[TargetPlan]:
    """One plan per target named by the request (none when it names no account):
    ``classified`` is its latest verdict, ``submission`` what ``RequestReceived`` said."""
    matches = target_matches(classified, submission, accounts)
    verdict = verdict_of(classified, matches)
    plans: list[TargetPlan] = []
    for match in matches:
        account = accounts.find(
            Target(handle=match.handle, platform_user_id=match.platform_user_id)
        )
        plans.append(
            _plan_target(
                classified, submission, verdict, amendments, match, account, as_of, counsel
            )
        )
    return plans


def plan_record(
    record: RequestRecord, accounts: AccountDirectory, as_of: datetime
) -> list[TargetPlan]:
    """The plans of a stored request: its latest verdict, every amendment and every
    decision of counsel (none before it is both received and classified)."""
    if record.verdict is None or record.submission is None:
        return []
    return plan_request(
        record.verdict,
        record.submission,
        record.amendments,
        accounts,
        as_of,
        counsel_state(record.counsel),
    )


def _plan_target(
    classified: RequestClassified,
    submission: Submission,
    verdict: Verdict,
    amendments: tuple[Amendment, ...],
    match: TargetMatch,
    account: Account | None,
    as_of: datetime,
    counsel: CounselState,
) -> TargetPlan:
    ruling = (
        NoticeRuling(
            decision=NoticeDecision.NOT_APPLICABLE, reason=NotifyReason.DUPLICATE_SUBMISSION
        )
        if classified.duplicate_of is not None
        else decide_notice(
            submission=submission,
            verdict=verdict,
            amendments=amendments,
            target=match,
            account=account,
            as_of=as_of,
            counsel=counsel,
        )
    )
    target = NoticeTarget(handle=match.handle, platform_user_id=match.platform_user_id)
    key = account_key(target, account)
    channel = channel_for(account)
    notice_id = notice_id_for(classified.request_id, key, channel)
    common = {
        "request_id": classified.request_id,
        "target": target,
        "decision": ruling.decision,
        "reason": ruling.reason,
        "not_before": ruling.not_before,
    }
    event: NoticeEvent | None
    not_before: datetime | None
    if ruling.decision is NoticeDecision.NOW:
        state, event, not_before = "scheduled", None, as_of
    elif ruling.decision is NoticeDecision.DELAYED:
        not_before = ruling.not_before
        state = "scheduled" if not_before is not None else "held"
        event = NotificationScheduled(**common)
    else:
        state, not_before = "cancelled", None
        event = NotificationWithheld(**common, review_after=ruling.review_after)
    notice = NoticePlan(
        notice_id=notice_id,
        request_id=classified.request_id,
        account_key=key,
        channel=channel,
        target=target,
        state=state,
        reason=ruling.reason,
        not_before=not_before,
    )
    return TargetPlan(target=target, ruling=ruling, notice=notice, event=event)
