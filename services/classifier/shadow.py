"""How a candidate policy's verdict differs from the active one's, in words. Pure."""

from __future__ import annotations

from shared.verdict import Verdict


def _changed(name: str, active: object, candidate: object) -> list[str]:
    return [] if active == candidate else [f"{name}: {active} -> {candidate}"]


def _categories(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


def differences(active: Verdict, candidate: Verdict) -> tuple[str, ...]:
    """One line per difference that matters to a reader ("risk.level: high -> critical",
    "factors +NDO_PRESENT -NDO_INDEFINITE"); empty when both policies agree. The policy
    versions are not a difference: they always differ."""
    lines = [
        *_changed("authority.code", active.authority.code, candidate.authority.code),
        *_changed("authority.family", active.authority.family, candidate.authority.family),
        *_changed(
            "data_scope.compellable",
            _categories(active.data_scope.compellable),
            _categories(candidate.data_scope.compellable),
        ),
        *_changed("risk.level", active.risk.level.value, candidate.risk.level.value),
        *_changed("risk.score", active.risk.score, candidate.risk.score),
    ]
    active_factors = [f.code for f in active.risk.factors]
    candidate_factors = [f.code for f in candidate.risk.factors]
    added = [f"+{code}" for code in candidate_factors if code not in active_factors]
    removed = [f"-{code}" for code in active_factors if code not in candidate_factors]
    if added or removed:
        lines.append(" ".join(["factors", *added, *removed]))
    lines += _changed(
        "recommended_action", active.recommended_action.value, candidate.recommended_action.value
    )
    return tuple(lines)
