"""Whether a demand shows the offence or the claim behind it and supports it with
evidence where the law requires a showing (unmasking: Dendrite, Cahill): "no affidavit
or other evidence is attached", "does not describe the offence", "no law, offence or
specific post identified". And, for civil unmasking, whether the speakers are
non-parties (Doe v. 2TheMart sets a higher bar for them)."""

from __future__ import annotations

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText

_GROUNDS = (
    r"(?:law|offen[cs]e|crime|violation|claim|statute|conduct|post|posts|statement|wrongdoing|"
    r"harm|falsity|injury|damages)"
)
_EVIDENCE = r"(?:affidavit|evidence|declaration|showing|prima facie|proof|exhibit|support)"
_MISSING = compile_all(
    [
        r"\bno (?:specific |particular )?(?:[a-z]+, )*"
        + _GROUNDS
        + r"\b(?: [a-z,-]+){0,4} (?:is |are |was |were )?"
        r"(?:identified|stated|specified|alleged|described|named|shown|given)\b",
        r"\bno (?:affidavit|evidence|declaration|sworn statement|showing|prima facie)\b",
        r"\bwithout (?:any )?(?:affidavit|evidence|declaration|showing|supporting)\b",
        r"\b"
        + _EVIDENCE
        + r"(?: [a-z-]+){0,6} (?:is|are|was|were) not "
        r"(?:attached|provided|submitted|offered|included|given)\b",
        r"\b(?:does|did) not (?:describe|identify|state|specify|name|allege|explain) (?:the |any |"
        r"an )?"
        r"(?:[a-z-]+ )?" + _GROUNDS + r"\b",
        r"\b(?:offen[cs]e|crime|claim|violation) (?:is |was )?not (?:described|identified|stated|"
        r"specified)\b",
        r"\bnot described in the\b",
        r"\bbeyond (?:that|its|their|this) belief\b",
    ]
)  # fmt: skip
_NON_PARTY = compile_all(
    [
        r"\bnon-?part(?:y|ies)\b",
        r"\b(?:is|are) not (?:a )?part(?:y|ies) to\b",
        r"\bnone of (?:the|them|these)(?: [a-z-]+){0,3} (?:is|are) (?:a )?part(?:y|ies)\b",
        r"\bthird[- ]part(?:y|ies) (?:witnesses|commenters|posters|users)\b",
    ]
)


def showing_missing(text: NormalisedText) -> Found | None:
    return find(text, _MISSING, affirmed_only=False)


def speakers_not_parties(text: NormalisedText) -> Found | None:
    return find(text, _NON_PARTY, affirmed_only=False)


_EVIDENCE_OFFERED = compile_all(
    [
        r"\bprima facie\b",
        r"\baffidavits?\b",
        r"\bsworn (?:declaration|statement|testimony)\b",
        r"\bdeclarations? of\b",
        r"\bevidence (?:that|of|showing)\b",
        r"\bexhibits?\b",
    ]
)
_PRIVATE_LAWSUIT = compile_all(
    [
        r"\bplaintiffs?\b",
        r"\b(?:law)?suit\b",
        r"\bcivil (?:action|suit|case|proceedings?)\b",
        r"\b(?:defamation|libel|copyright|trademark|contract) (?:suit|claim|claims|action|case)\b",
    ]
)


def evidence_offered(text: NormalisedText) -> Found | None:
    """Evidence the requester says it attaches (a denied mention, "no affidavit is
    attached", is none)."""
    return find(text, _EVIDENCE_OFFERED)


def private_lawsuit(text: NormalisedText) -> Found | None:
    """The demand serves a private party's lawsuit, even when a court sends it."""
    return find(text, _PRIVATE_LAWSUIT)


_PLATFORM_NOT_PARTY = compile_all(
    [
        r"\b(?:was|is|were) (?:never |not )(?:named as |made )?an? (?:party|defendant)\b",
        r"\b(?:was|were|has not been|had not been) (?:never |not )?served with\b",
        r"\bdid not appear\b",
        r"\bnon-?party (?:platform|provider|company|website|service|intermediary)\b",
    ]
)


def platform_not_party(text: NormalisedText) -> Found | None:
    """An order binds the platform although it was never a party to the suit or served
    in it (Hassell v. Bird; Yelp v. Hadeed on jurisdiction)."""
    return find(text, _PLATFORM_NOT_PARTY, affirmed_only=False)
