"""Protected contexts a demand touches (domain.md s.5): journalism and sources,
health and reproduction, religion, protest and activism, and minors. For a minor the
role matters: a child endangered by the account holder (exploitation, grooming, a
missing child) is the child-safety exception to notice; a minor whose own messages are
sought is not (MINOR_INVOLVED, often with sensitive health facts)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

from services.classifier.domain.extract._match import Found, compile_all, find_each
from services.classifier.domain.text import NormalisedText


class Context(StrEnum):
    JOURNALISM = "journalism"
    HEALTH = "health"
    RELIGION = "religion"
    PROTEST = "protest"
    MINOR = "minor"
    CHILD_SAFETY = "child_safety"


_PATTERNS: Mapping[Context, tuple[re.Pattern[str], ...]] = {
    Context.JOURNALISM: compile_all(
        [
            r"\b(?:journalists?|reporters?|newsrooms?|news (?:organi[sz]ations?|outlets?|sites?|"
            r"agency|agencies)|"
            r"media outlets?|editors?|publishers?|press freedom)\b",
            r"\b(?:confidential|anonymous|news) sources?\b",
            r"\bleak(?:s|ed)?\b",
            r"\bunauthori[sz]ed disclosures?\b",
            r"\bclassified (?:information|documents)\b",
        ]
    ),
    Context.HEALTH: compile_all(
        [
            r"\babortions?\b", r"\bpregnan(?:t|cy|cies)\b", r"\bstillb(?:irth|orn)\b",
            r"\bmiscarriages?\b", r"\breproductive\b", r"\bcontracepti", r"\bmifepristone\b",
            r"\bmisoprostol\b", r"\bmedical (?:records|condition|history|treatment)\b",
            r"\bmental health\b", r"\bhiv\b", r"\bgender[- ](?:identity|affirming)\b",
            r"\btransgender\b",
            r"\bsexual orientation\b",
            r"\b(?:health|fertility) (?:clinic|app|data|information)\b",
        ]
    ),
    Context.RELIGION: compile_all(
        [
            r"\breligio(?:n|us|ns)\b", r"\bchurch(?:es)?\b", r"\bmosques?\b", r"\bsynagogues?\b",
            r"\btemples?\b", r"\bcongregations?\b", r"\bworship\b", r"\bfaith\b",
        ]
    ),
    Context.PROTEST: compile_all(
        [
            r"\bprotest(?:s|ers?|ors?|ing)?\b",
            r"\bdemonstrat(?:ion|ions|ors?)\b",
            r"\brall(?:y|ies)\b",
            r"\briots?(?:ing)?\b", r"\bactivis(?:t|ts|m)\b", r"\bdissidents?\b", r"\bboycotts?\b",
            r"\bcivil disobedience\b", r"\bstrikers?\b", r"\bmarch(?:es)? (?:on|against|for)\b",
        ]
    ),
    Context.MINOR: compile_all(
        [
            r"\b(?:[1-9]|1[0-7])[- ]year[- ]old\b", r"\bminors?\b(?! (?:matter|offen[cs]e|issue))",
            r"\bjuveniles?\b", r"\bunderage\b", r"\bunder (?:the age of|age) (?:1[0-8]|[1-9])\b",
            r"\bunder 18 years\b",
            r"\bunder 18(?=[,;)]| (?:and|or|who|at|when)\b)",
            r"\bteen(?:age|ager|agers|s)?\b",
            r"\bchild(?:ren)?\b", r"\bhigh[- ]school\b", r"\b(?:his|her|their) (?:daughter|son)\b",
        ]
    ),
    Context.CHILD_SAFETY: compile_all(
        [
            r"\bchild sexual (?:abuse|exploitation)\b",
            r"\bcsam\b",
            r"\bchild (?:exploitation|pornography|abuse)\b",
            r"\bsextortion\b",
            r"\bgroom(?:ed|ing)\b",
            r"\bmissing (?:child|girl|boy|minor|\d+-year-old)\b",
            r"\b(?:identified )?(?:child|minor) victims?\b",
            r"\bcybertipline\b",
            r"\benticement of a minor\b",
        ]
    ),
}  # fmt: skip


def protected_contexts(text: NormalisedText) -> dict[Context, Found]:
    return find_each(text, _PATTERNS)
