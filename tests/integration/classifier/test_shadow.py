"""Shadow mode: a candidate policy's verdict goes to the shadow topic beside every
active verdict, with the differences in words; a malformed candidate refuses start."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from deploy.kafka.security import KafkaAccess
from services.classifier.app import create_app
from services.classifier.domain import PolicyError, load_policy
from shared import topics
from shared.events import RequestClassified, ShadowClassified
from shared.kafka import derived_event_id
from shared.settings import ClassifierSettings, listen_environment
from tests.fixtures.servers import free_port
from tests.integration.classifier.conftest import (
    POLICY_DIR,
    Feed,
    Found,
    StartClassifier,
    new_request_id,
    read_events,
)
from tests.integration.classifier.test_reclassification import (
    GAG,
    amended,
    received,
    verdict_for,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
NDO_INDEFINITE = "  - code: NDO_INDEFINITE\n    weight: 25\n"
SCORE_CAP = "score_alone_reaches_at_most: medium\n"


def candidate_policy(directory: Path, weight: str) -> Path:
    """The shipped policy with another weight for an indefinite gag, which the weights
    alone may carry all the way up."""
    shutil.copytree(POLICY_DIR, directory)
    decisions = directory / "decisions.yaml"
    rules = decisions.read_text(encoding="utf-8")
    assert SCORE_CAP in rules
    decisions.write_text(
        rules.replace(SCORE_CAP, "score_alone_reaches_at_most: critical\n"), encoding="utf-8"
    )
    factors = directory / "risk_factors.yaml"
    text = factors.read_text(encoding="utf-8")
    assert NDO_INDEFINITE in text
    replaced = NDO_INDEFINITE.replace("25", weight)
    factors.write_text(text.replace(NDO_INDEFINITE, replaced), encoding="utf-8")
    return directory


async def shadow_for(kafka: KafkaAccess, request_id: str, cause: str) -> ShadowClassified:
    def answered(events: Found) -> bool:
        return any(
            isinstance(d, ShadowClassified) and d.verdict.caused_by == cause for _, d in events
        )

    events = await read_events(kafka, topics.REQUEST_CLASSIFIED_SHADOW, request_id, answered)
    (shadow,) = (
        d for _, d in events if isinstance(d, ShadowClassified) and d.verdict.caused_by == cause
    )
    return shadow


async def test_candidate_verdicts_go_to_the_shadow_topic_with_differences(
    start_classifier: StartClassifier, feed: Feed, kafka_access: KafkaAccess, tmp_path: Path
) -> None:
    candidate_dir = candidate_policy(tmp_path / "candidate", "90")
    candidate_version = load_policy(candidate_dir).version
    await start_classifier(shadow_policy_dir=candidate_dir)
    request_id = new_request_id()

    first = await feed.event(received(request_id))
    active = await verdict_for(kafka_access, request_id, first.id)
    shadow = await shadow_for(kafka_access, request_id, first.id)
    assert shadow.active_policy_version == active.policy_version != candidate_version
    assert shadow.verdict.policy_version == candidate_version
    assert shadow.differences == ()  # no gag yet: both policies agree

    gag = await feed.event(amended(request_id, GAG, days=1))
    gagged = await verdict_for(kafka_access, request_id, gag.id)
    shadow = await shadow_for(kafka_access, request_id, gag.id)
    assert isinstance(shadow.verdict, RequestClassified)
    assert shadow.verdict.amendments == gagged.amendments
    active_score, candidate_score = gagged.risk.score, shadow.verdict.risk.score
    assert candidate_score > active_score
    assert f"risk.score: {active_score} -> {candidate_score}" in shadow.differences
    assert shadow.verdict.authority == gagged.authority

    # the active verdict is the one published on the verdict topic, never the candidate's
    events = await read_events(
        kafka_access, topics.REQUEST_CLASSIFIED, request_id, lambda found: len(found) >= 2
    )
    assert {d.policy_version for _, d in events if isinstance(d, RequestClassified)} == {
        active.policy_version
    }
    assert derived_event_id("classified", gag.id, active.policy_version) in {
        e.id for e, _ in events
    }


def test_a_malformed_candidate_policy_refuses_the_app(
    tmp_path: Path, kafka_access: KafkaAccess, database_url: str
) -> None:
    candidate = candidate_policy(tmp_path / "candidate", "heavy")
    settings = ClassifierSettings(
        **kafka_access.service_settings("classifier"),
        database_url=database_url,
        shadow_policy_dir=candidate,
    )
    with pytest.raises(PolicyError, match=r"^risk_factors\.yaml:\d+: expected a whole number"):
        create_app(settings)


async def test_a_malformed_candidate_policy_stops_the_service_with_one_log_line(
    tmp_path: Path, kafka_access: KafkaAccess, database_url: str
) -> None:
    candidate = candidate_policy(tmp_path / "candidate", "heavy")
    env = {
        **os.environ,
        **kafka_access.service_env("classifier"),
        "DOCKET_DATABASE_URL": database_url,
        "DOCKET_SHADOW_POLICY_DIR": str(candidate),
        **listen_environment("classifier", free_port(), free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.classifier.app",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 2, text
    assert "Traceback" not in text
    failures = [line for line in text.splitlines() if "startup_failed" in line]
    assert len(failures) == 1, text
    assert "risk_factors.yaml:" in failures[0]
    assert "expected a whole number" in failures[0]
