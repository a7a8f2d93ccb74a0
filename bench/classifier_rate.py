"""Classifier alone: verdicts per second of the pure ``classify`` function over the case
mix of ``tests/policy_cases`` (each case with its own accounts and amendments, as of its
receipt), with the active policy.

    python -m bench.classifier_rate [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.cases import load_cases
from services.classifier.domain import load_policy
from services.classifier.domain.classify import classify
from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.submission import Submission
from shared.verdict import Verdict


@dataclass(frozen=True)
class ClassifierRate:
    verdicts_per_s: float
    verdicts: int
    cases: int
    policy_load_s: float


def _calls() -> list[Callable[[], Verdict]]:
    calls: list[Callable[[], Verdict]] = []
    policy = load_policy()
    for case in load_cases():
        submission = Submission.model_validate(case.request)
        accounts = AccountDirectory(Account.model_validate(a) for a in case.accounts)
        amendments = tuple(Amendment.model_validate(a) for a in case.amendments)

        def call(
            s: Submission = submission,
            a: AccountDirectory = accounts,
            m: tuple[Amendment, ...] = amendments,
        ) -> Verdict:
            return classify(s, a, policy, s.received_at, m)

        calls.append(call)
    return calls


def measure(seconds: float = 5.0) -> ClassifierRate:
    began = time.perf_counter()
    load_policy()
    policy_load_s = time.perf_counter() - began
    calls = _calls()
    for call in calls:  # warm-up: regex caches
        call()
    done = 0
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        for call in calls:
            call()
        done += len(calls)
    return ClassifierRate(done / elapsed, done, len(calls), policy_load_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    rate = measure(parser.parse_args().seconds)
    print(
        f"classify: {rate.verdicts_per_s:,.0f} verdicts/s over {rate.cases} cases "
        f"({rate.verdicts} verdicts; policy loads in {rate.policy_load_s * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
