"""Facts about a received document that intake notices but does not reject on: the
platform still has to answer the document it received, and the classifier weighs them."""

from __future__ import annotations

from datetime import datetime

from shared.events import DocumentFinding
from shared.submission import Submission


def document_findings(submission: Submission, accepted_at: datetime) -> tuple[DocumentFinding, ...]:
    findings: list[DocumentFinding] = []
    instrument = submission.instrument
    received = submission.received_at
    if instrument.response_deadline is not None and instrument.response_deadline <= received:
        findings.append(
            DocumentFinding(
                code="DEADLINE_BEFORE_RECEIPT",
                detail=f"response_deadline {instrument.response_deadline.isoformat()} is not "
                f"after received_at {received.isoformat()}",
            )
        )
    if instrument.issued_at is not None and instrument.issued_at > received.date():
        findings.append(
            DocumentFinding(
                code="ISSUED_AFTER_RECEIPT",
                detail=f"issued_at {instrument.issued_at.isoformat()} is after received_at "
                f"{received.date().isoformat()}",
            )
        )
    if received > accepted_at:
        findings.append(
            DocumentFinding(
                code="RECEIVED_IN_FUTURE",
                detail=f"received_at {received.isoformat()} is later than the moment intake "
                f"accepted the submission",
            )
        )
    nondisclosure = instrument.nondisclosure
    if nondisclosure.expires_at is not None and not nondisclosure.ordered:
        findings.append(
            DocumentFinding(
                code="NONDISCLOSURE_EXPIRY_WITHOUT_ORDER",
                detail="nondisclosure.expires_at is set although nondisclosure.ordered is false",
            )
        )
    return tuple(findings)
