"""Threats against the platform's staff or its service."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.coercion import CoercionTarget, coercion
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    "text",
    [
        "on pain of a daily fine and the arrest of its local representative",
        "Failure to comply will bring measures against the company's assets and representatives.",
        "Non-compliance is punishable with imprisonment of up to seven years.",
        "criminal proceedings against the company's local officers",
        "your employees in the country may be arrested",
    ],
)
def test_threats_against_staff(text: str) -> None:
    found = coercion(normalise(text))
    assert found is not None
    assert found.target is CoercionTarget.STAFF, found


@pytest.mark.parametrize(
    "text",
    [
        "raises the daily fine to R$1,000,000",
        "orders the temporary suspension of the service throughout the country",
        "the Bench would ask the government to block the site",
        "a fine of 50,000 per day of delay",
        "Issue notice of contempt.",
        "freezing of the company's bank accounts",
    ],
)
def test_threats_against_the_service(text: str) -> None:
    found = coercion(normalise(text))
    assert found is not None
    assert found.target is CoercionTarget.SERVICE, found


@pytest.mark.parametrize(
    "text",
    [
        "A man wanted on an arrest warrant for a violent offence",
        "the suspect was arrested last week",
        "produce the subscriber records within ten days",
    ],
)
def test_no_threat_to_the_platform(text: str) -> None:
    assert coercion(normalise(text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "the company and its officers in Russia face fines and criminal liability",
        "its local employees risk prosecution",
    ],
)
def test_staff_facing_prosecution(text: str) -> None:
    found = coercion(normalise(text))
    assert found is not None
    assert found.target is CoercionTarget.STAFF


@pytest.mark.parametrize(
    "text",
    [
        "Refusal to provide the data is punishable by a criminal fine under article 46bis.",
        "non-compliance will be sanctioned",
        "an administrative penalty applies",
    ],
)
def test_a_penalty_for_refusing(text: str) -> None:
    found = coercion(normalise(text))
    assert found is not None
    assert found.target is CoercionTarget.PENALTY
