"""Compelled technical assistance (domain.md s.5): an order to build, deploy or hand
over security or surveillance capability (signed software that bypasses a passcode
limit, a service's TLS private keys, a scanner across every mailbox), as opposed to
the ordinary duty to furnish "information, facilities and assistance" with an order."""

from __future__ import annotations

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText

_BUILD = (
    r"(?:build|develop|create|write|design|engineer|deploy|install|implement|modify|alter|code)"
)
_THING = (
    r"(?:software|firmware|code|program|tool|capability|capacity|scanner|scanning|filter|feature|"
    r"version|update|backdoor|back door|interface|mechanism|system)"
)
_PATTERNS = compile_all(
    [
        r"\b" + _BUILD + r"s?(?: [a-z-]+){0,4} " + _THING + r"\b",
        r"\bby-?pass(?:es|ing)?\b", r"\bdisables? the auto-?erase\b",
        r"\b(?:private|encryption|tls|ssl|signing|decryption) keys?\b",
        r"\bsigned software\b", r"\bdecrypt(?:ion|ed|ing)?\b", r"\bbreak (?:the )?encryption\b",
        r"\bdefeat (?:the )?(?:encryption|security|passcode)\b", r"\bback ?doors?\b",
    ]
)  # fmt: skip


def technical_assistance(text: NormalisedText) -> Found | None:
    return find(text, _PATTERNS)
