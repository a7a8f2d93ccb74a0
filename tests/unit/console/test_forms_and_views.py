"""The console's pure parts: forms read into intake's bodies, what a page shows of a
history (a gag in force, countdowns), and a key acting for a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.console.forms import decision_of, field_problems
from services.console.views import countdown, gag_in_force, shows, targets_of
from shared.auth.keys import DelegationRefused, Principal, Role, acting_for

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_verification_form_becomes_intakes_body() -> None:
    form = {
        "method": "directory_callback",
        "contact": "CBP OPR duty officer",
        "contacted_at": "2026-12-01T10:00",
        "outcome": "verified",
        "reason": "called the published number",
    }
    result = decision_of("verify-requester", form, NOW)
    assert result.problems == {}
    assert result.body == {**form, "contacted_at": "2026-12-01T10:00:00Z"}


def test_a_form_without_its_reason_is_shown_back_with_the_field_named() -> None:
    result = decision_of("assign", {"assignee": "counsel-2", "reason": " "}, NOW)
    assert result.body is None
    assert set(result.problems) == {"reason"}


def test_production_per_category_skips_the_undecided_and_needs_how_narrowed() -> None:
    form = {
        "target": "handle:@ALT_USCIS",
        "decision.subscriber_identity": "do_not_produce",
        "decision.ip_logs": "",
        "decision.contact_info": "narrowed",
        "narrowed.contact_info": "",
        "reason": "1509 reaches import records",
    }
    assert decision_of("production", form, NOW).body is None  # narrowed: to what?
    form["narrowed.contact_info"] = "the e-mail address only"
    body = decision_of("production", form, NOW).body
    assert body is not None
    assert body["target"] == {"handle": "@ALT_USCIS"}
    assert [d["category"] for d in body["decisions"]] == ["subscriber_identity", "contact_info"]


def test_a_gag_change_is_an_amendment_effective_now_and_needs_a_reason() -> None:
    assert decision_of("gag", {"ordered": "on"}, NOW).problems == {
        "reason": "say why the order changed"
    }
    body = decision_of("gag", {"reason": "the court lifted it"}, NOW).body
    assert body == {
        "nondisclosure": {"ordered": False},
        "withdrawn": False,
        "note": "the court lifted it",
        "effective_at": "2026-12-03T12:00:00Z",
    }


def test_problem_documents_from_intake_name_the_form_fields() -> None:
    errors = [{"pointer": "#/authority/code", "detail": "bad code"}, {"pointer": "#/reason"}]
    assert field_problems(errors) == {"authority_code": "bad code", "reason": "invalid"}


def _history(**changes: object) -> dict[str, object]:
    order = {"ordered": True, "authority": "18 U.S.C. 2705(b)", "expires_at": None}
    history: dict[str, object] = {
        "received": {
            "submission": {
                "instrument": {"nondisclosure": order},
                "targets": [{"handle": "@a", "platform_user_id": None}],
            }
        },
        "notifications": [],
        "amendments": [],
    }
    history.update(changes)
    return history


def test_a_gag_binds_until_it_expires_or_is_lifted() -> None:
    gag = gag_in_force(_history(), NOW)
    assert gag is not None
    assert gag.until is None
    lifted = {"nondisclosure": {"ordered": False}, "effective_at": "2026-12-01T00:00:00Z"}
    assert gag_in_force(_history(amendments=[lifted]), NOW) is None
    later = {**lifted, "effective_at": "2027-01-01T00:00:00Z"}  # not yet in force
    assert gag_in_force(_history(amendments=[later]), NOW) is not None
    expired = {
        "nondisclosure": {"ordered": True, "expires_at": "2026-11-01T00:00:00Z"},
        "effective_at": "2026-10-01T00:00:00Z",
    }
    assert gag_in_force(_history(amendments=[expired]), NOW) is None


def test_a_secrecy_request_the_notifier_found_not_binding_blocks_nothing() -> None:
    notice = {"reason": "NONBINDING_SECRECY_REQUEST", "target": {"handle": "@a"}}
    assert gag_in_force(_history(notifications=[notice]), NOW) is None
    added = {"nondisclosure": {"ordered": True}, "effective_at": "2026-12-01T00:00:00Z"}
    assert gag_in_force(_history(notifications=[notice], amendments=[added]), NOW) is not None


def test_the_notifiers_secrecy_reason_binds_even_when_the_order_reads_lifted() -> None:
    notice = {"reason": "STATUTORY_SECRECY", "not_before": None, "target": {"handle": "@a"}}
    lifted = {"nondisclosure": {"ordered": False}, "effective_at": "2026-12-01T00:00:00Z"}
    gag = gag_in_force(_history(amendments=[lifted], notifications=[notice]), NOW)
    assert gag is not None
    assert gag.reason == "STATUTORY_SECRECY"


def test_each_target_is_shown_with_its_own_notice() -> None:
    notice = {"target": {"handle": "A", "platform_user_id": "u-1"}, "reason": "X"}
    [row] = targets_of(_history(notifications=[notice]))
    assert row["notice"] is notice


def test_countdowns_read_as_console_js_writes_them() -> None:
    assert countdown(NOW + timedelta(days=2, hours=3, minutes=5), NOW) == "in 2 d 3 h"
    assert countdown(NOW + timedelta(minutes=40, seconds=30), NOW) == "in 40 min"
    assert countdown(NOW - timedelta(days=12), NOW) == "overdue by 12 d"


CONSOLE = Principal("k_1", "console", Role.LEGAL, national_security=False, delegates=True)


def test_a_delegating_key_acts_for_a_person_in_their_role_and_under_their_name() -> None:
    acting = acting_for(CONSOLE, "00u1abc", "reader", False)
    assert (acting.client_id, acting.role, acting.via) == (
        "console:00u1abc",
        Role.READER,
        "console",
    )
    assert not acting.delegates  # the person cannot delegate on


@pytest.mark.parametrize(
    ("key", "subject", "role", "natsec", "why"),
    [
        (CONSOLE, "00u1abc", "submitter", False, "may not act as submitter"),
        (CONSOLE, "00u1abc", "owner", False, "is not a role"),
        (CONSOLE, "00u1abc", "legal", True, "national-security"),
        (CONSOLE, "has space", "legal", False, "acting subject"),
        (CONSOLE, ":x", "legal", False, "acting subject"),
        (Principal("k_2", "legal-ops", Role.LEGAL), "00u1abc", "legal", False, "may not act"),
        (
            Principal("k_3", "on-call", Role.READER, delegates=True),
            "00u1abc",
            "legal",
            False,
            "a reader key may not act as legal",
        ),
    ],
)
def test_a_key_never_acts_above_itself(
    key: Principal, subject: str, role: str, natsec: bool, why: str
) -> None:
    with pytest.raises(DelegationRefused, match=why):
        acting_for(key, subject, role, natsec)


def test_a_recorded_decision_is_shown_once_the_view_has_folded_it_in() -> None:
    logged = {
        "events": [
            {"event_id": "e1", "type": "RequestReceived"},
            {"event_id": "e2", "type": "ProductionDecided"},
        ],
        "counsel": {"actions": []},
    }
    assert not shows(logged, "e3")  # not in the log yet
    assert not shows(logged, "e2")  # in the log, not yet in the view
    assert shows({**logged, "counsel": {"actions": [{"type": "ProductionDecided"}]}}, "e2")
