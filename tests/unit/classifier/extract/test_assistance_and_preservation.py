"""Compelled technical assistance; preservation beyond 18 U.S.C. 2703(f)."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.assistance import technical_assistance
from services.classifier.domain.extract.preservation import beyond_renewal, prospective_capture
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    "text",
    [
        "providing signed software that bypasses or disables the auto-erase function",
        "hand over the service's TLS private keys",
        "Compliance requires the provider to deploy a scanning capability it does not have.",
        "build a version of the operating system without the passcode limits",
        "assist in the decryption of the communications",
    ],
)
def test_technical_assistance(text: str) -> None:
    assert technical_assistance(normalise(text)) is not None


@pytest.mark.parametrize(
    "text",
    [
        "provide all information, facilities and assistance necessary to accomplish the "
        "acquisition",
        "The provider shall record and deliver in real time the date and time of each login.",
    ],
)
def test_ordinary_assistance_is_not_compelled_engineering(text: str) -> None:
    assert technical_assistance(normalise(text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "preserve all messages created after the date of this letter",
        "capture future communications until process is served",
        "continue to preserve new messages as they are created",
    ],
)
def test_prospective_capture(text: str) -> None:
    assert prospective_capture(normalise(text)) is not None


def test_existing_records_only_is_lawful_preservation() -> None:
    text = normalise("Please preserve, for 90 days, all records in your possession.")
    assert prospective_capture(text) is None
    assert beyond_renewal(text) is None


@pytest.mark.parametrize(
    "text",
    ["RE: THIRD REQUEST TO PRESERVE RECORDS", "a second 90-day extension", "this fourth extension"],
)
def test_beyond_the_one_renewal(text: str) -> None:
    assert beyond_renewal(normalise(text)) is not None
