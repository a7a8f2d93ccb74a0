"""Requester identity signals, one kind at a time, and the REQUESTER_IDENTITY_UNVERIFIED
rule that the policy writes on them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.classifier.domain import classify
from services.classifier.domain.requester import SignalKind, assess_requester
from services.classifier.registry import load_agency_registry
from shared.accounts import AccountDirectory
from shared.submission import Submission
from tests.unit.classifier.support import shipped_policy

REGISTRY = load_agency_registry()
RECEIVED = datetime(2025, 6, 1, 3, tzinfo=UTC)


def _request(
    agency: str = "Seattle Police Department",
    email: str | None = "records@seattle.gov",
    *,
    agency_type: str = "state_local_law_enforcement",
    country: str = "US",
    via: str = "email",
    kind: str = "subpoena",
    issued_by: str | None = None,
    text: str | None = None,
    emergency: bool = False,
) -> Submission:
    body: dict[str, Any] = {
        "external_ref": "R-1",
        "received_via": via,
        "received_at": RECEIVED.isoformat(),
        "requester": {
            "agency": agency,
            "agency_type": agency_type,
            "country": country,
            "contact_email": email,
        },
        "instrument": {
            "type": kind,
            "cited_authority": "18 U.S.C. 2703(c)(2)",
            "issued_by": issued_by,
            "document_text": text,
        },
        "targets": [{"handle": "@someone"}],
        "data_requested": ["subscriber_identity"],
        "emergency": {
            "claimed": emergency,
            "justification": "danger of death" if emergency else None,
        },
    }
    return Submission.model_validate(body)


def _kinds(submission: Submission) -> list[SignalKind]:
    return [s.kind for s in assess_requester(submission, REGISTRY).signals]


def _evidence(submission: Submission) -> str:
    return " | ".join(s.evidence for s in assess_requester(submission, REGISTRY).signals)


# --- an agency's own domain --------------------------------------------------------


@pytest.mark.parametrize(
    ("agency", "email", "agency_type"),
    [
        ("U.S. Customs and Border Protection, Office of Professional Responsibility",
         "opr@cbp.dhs.gov", "federal_law_enforcement"),
        ("Homeland Security Investigations", "hsi@ice.dhs.gov", "federal_law_enforcement"),
        ("Federal Bureau of Investigation, Boston Field Office", "cyber@fbi.gov",
         "federal_law_enforcement"),
        ("United States Attorney's Office, Southern District of Indiana", "gj@usdoj.gov",
         "federal_law_enforcement"),
        ("Drug Enforcement Administration, Miami Field Division", "mia@dea.gov",
         "federal_law_enforcement"),
        ("Office of Inspector General, Department of Health and Human Services",
         "oig@oig.hhs.gov", "regulatory"),
        ("United States Senate, Permanent Subcommittee on Investigations", "psi@hsgac.senate.gov",
         "other"),
        ("United States District Court, Central District of California",
         "clerk@cacd.uscourts.gov", "court"),
        ("Maricopa County Sheriff's Office, Crimes Against Children Unit",
         "cac@mcso.maricopa.gov", "state_local_law_enforcement"),
        ("Riverside Police Department, Property Crimes", "pc@riversideca.gov",
         "state_local_law_enforcement"),
        ("Portland Police Bureau", "edr@police.portlandoregon.gov", "state_local_law_enforcement"),
        ("Travis County Sheriff's Office", "deputy@traviscountytx.gov",
         "state_local_law_enforcement"),
        ("Texas Attorney General", "cid@texasattorneygeneral.gov", "state_local_law_enforcement"),
        ("Naval Criminal Investigative Service", "agent@ncis.navy.mil", "federal_law_enforcement"),
        ("New York City Police Department", "legal@nypd.nyc.gov", "state_local_law_enforcement"),
        ("Los Angeles County Sheriff's Department", "x@lasd.lacounty.gov",
         "state_local_law_enforcement"),
        ("Michigan State Police", "x@michigan.gov", "state_local_law_enforcement"),
        ("Florida Department of Law Enforcement", "x@fdle.state.fl.us",
         "state_local_law_enforcement"),
        ("Bureau of Alcohol, Tobacco, Firearms and Explosives", "x@atf.gov",
         "federal_law_enforcement"),
    ],
)  # fmt: skip
def test_a_verified_agencys_own_domain_raises_nothing(
    agency: str, email: str, agency_type: str
) -> None:
    evidence = assess_requester(_request(agency, email, agency_type=agency_type), REGISTRY)
    assert evidence.signals == ()
    assert evidence.verified


@pytest.mark.parametrize(
    ("agency", "email", "country", "agency_type"),
    [
        ("Metropolitan Police Service", "opo@met.police.uk", "GB", "foreign_government"),
        ("National Crime Agency", "opo@nca.gov.uk", "GB", "foreign_government"),
        ("Ministry of Justice", "liaison@justice.gov.uk", "GB", "foreign_government"),
        ("Police judiciaire, Paris", "req@interieur.gouv.fr", "FR", "foreign_government"),
        ("Ministry of Home Affairs", "cis@nic.in", "IN", "foreign_government"),
        ("Vara Criminal de Lagarto, Sergipe", "vara@tjse.jus.br", "BR", "court"),
    ],
)
def test_a_foreign_agency_on_its_own_governments_namespace_raises_nothing(
    agency: str, email: str, country: str, agency_type: str
) -> None:
    submission = _request(agency, email, country=country, agency_type=agency_type)
    assert _kinds(submission) == []


# --- free mail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["detective.pd@gmail.com", "sgt.desk@PROTONMAIL.com", "officer.local@yahoo.co.uk"]
)
def test_a_free_mail_address_is_a_signal_naming_only_the_domain(email: str) -> None:
    submission = _request("Police Department (as claimed)", email)
    assert _kinds(submission) == [SignalKind.FREE_MAIL]
    evidence = _evidence(submission)
    assert email.split("@")[1].casefold() in evidence
    assert email.split("@")[0] not in evidence


# --- look-alikes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "imitated"),
    [
        ("agent@dhs-gov.com", "dhs.gov"),
        ("agent@cbp.dhs.gov.us", "dhs.gov"),
        ("agent@fbi.gov.co", "fbi.gov"),
        ("agent@d\u04bbs.gov", "dhs.gov"),
        ("agent@usdoi.gov", "usdoj.gov"),
        ("records@seattle-gov.org", "seattle.gov"),
    ],
)
def test_a_look_alike_domain_is_a_signal_naming_what_it_imitates(email: str, imitated: str) -> None:
    submission = _request("U.S. Customs and Border Protection", email)
    assert _kinds(submission) == [SignalKind.LOOK_ALIKE]
    assert imitated in _evidence(submission)


def test_a_look_alike_inside_another_countrys_namespace_is_still_one() -> None:
    # gov.co is Colombia's: an FBI agent in the US does not write from it.
    submission = _request("Federal Bureau of Investigation", "agent@fbi.gov.co",
                          agency_type="federal_law_enforcement")  # fmt: skip
    assert _kinds(submission) == [SignalKind.LOOK_ALIKE]


# --- unregistered and unknown domains ----------------------------------------------


def test_a_gov_domain_the_registry_does_not_list_is_a_signal() -> None:
    submission = _request("Criminal Investigations Division", "cid@exampleville-pd.gov")
    assert _kinds(submission) == [SignalKind.UNREGISTERED_GOV_DOMAIN]
    assert "2026-08-22" in _evidence(submission)


@pytest.mark.parametrize("email", ["records@nypd.org", "epoc@om.nl", "legal@lawfirm.com"])
def test_a_domain_nobody_knows_is_only_an_unknown_domain(email: str) -> None:
    assert _kinds(_request("Some Agency", email, agency_type="other")) == [
        SignalKind.UNKNOWN_DOMAIN
    ]


@pytest.mark.parametrize(
    "email", ["a@counsel.example", "b@polizei.example.de", "c@sao17.example.gov", "d@x.test"]
)
def test_reserved_documentation_domains_are_neither_evidence_nor_verified(email: str) -> None:
    evidence = assess_requester(_request("Some Agency", email), REGISTRY)
    assert (evidence.signals, evidence.verified) == ((), False)


@pytest.mark.parametrize(
    ("via", "expected"),
    [
        ("email", [SignalKind.NO_SENDER_ADDRESS]),
        ("mail", []),
        ("fax", []),
        ("service_of_process", []),
        ("portal", []),
    ],
)
def test_no_sender_address_matters_only_for_an_emailed_request(
    via: str, expected: list[SignalKind]
) -> None:
    assert _kinds(_request(email=None, via=via)) == expected


# --- registered, but to someone else -----------------------------------------------


@pytest.mark.parametrize(
    ("agency", "email", "named"),
    [
        ("U.S. Customs and Border Protection", "summons@traviscountytx.gov",
         "Department of Homeland Security"),
        ("Seattle Police Department", "records@maricopa.gov", "City of Seattle"),
        ("Federal Bureau of Investigation", "agent@irs.gov", "Department of Justice"),
        ("Riverside Police Department", "detective@seattle.gov", "Riverside"),
    ],
)  # fmt: skip
def test_a_domain_registered_to_another_body_than_the_named_agency_is_a_signal(
    agency: str, email: str, named: str
) -> None:
    submission = _request(agency, email)
    assert _kinds(submission) == [SignalKind.NOT_THE_NAMED_AGENCY]
    evidence = _evidence(submission)
    assert named in evidence
    assert email.split("@")[1] in evidence


def test_a_federal_requester_on_a_local_domain_is_a_signal_even_unnamed() -> None:
    submission = _request("Task force (as claimed)", "tf@seattle.gov",
                          agency_type="federal_law_enforcement")  # fmt: skip
    assert _kinds(submission) == [SignalKind.NOT_THE_NAMED_AGENCY]


def test_a_requester_in_one_country_on_anothers_government_domain_is_a_signal() -> None:
    submission = _request("Ministério Público", "mp@meity.gov.in", country="BR",
                          agency_type="foreign_government")  # fmt: skip
    assert _kinds(submission) == [SignalKind.NOT_THE_NAMED_AGENCY]
    assert "in BR" in _evidence(submission)
    assert "in IN" in _evidence(submission)


def test_an_agency_name_that_names_no_body_is_no_evidence_against_its_domain() -> None:
    assert _kinds(_request("Criminal Investigations Division", "cid@seattle.gov")) == []


# --- the document's own text -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Reply-To: desk.officer@gmail.com",
        "Please send the records only to urgent-desk@proton.me as the detective is in the field.",
        "Due to an outage, respond to records@seattle-police.net instead.",
        "Contact me directly at sgt@maricopa.gov with the results.",
    ],
)
def test_a_reply_to_another_domain_is_a_signal(text: str) -> None:
    submission = _request(text=text, kind="emergency_request")
    assert SignalKind.REPLY_ELSEWHERE in _kinds(submission)
    assert "@" not in _evidence(submission)


@pytest.mark.parametrize(
    "text",
    [
        "Reply to records@seattle.gov or to detectives@police.seattle.gov.",
        "The account's address is target.person@gmail.com; send the records to us.",
        "Send the records to the address above.",
    ],
)
def test_replies_to_the_senders_own_domain_or_a_targets_address_are_no_signal(text: str) -> None:
    assert _kinds(_request(text=text, kind="emergency_request")) == []


def test_a_signature_with_a_free_mail_address_is_a_signal() -> None:
    text = "We need the records now.\n\nSincerely,\nDetective, Seattle PD\ndet.pd@outlook.com"
    submission = _request(text=text, kind="emergency_request")
    assert _kinds(submission) == [SignalKind.SIGNATURE_MISMATCH]
    assert "outlook.com" in _evidence(submission)


def test_a_letter_signed_for_another_agency_is_a_signal() -> None:
    submission = _request(issued_by="Detective, Travis County Sheriff's Office",
                          kind="emergency_request")  # fmt: skip
    assert _kinds(submission) == [SignalKind.SIGNATURE_MISMATCH]
    assert "Travis County" in _evidence(submission)


def test_a_court_signing_the_order_an_agency_obtained_is_no_signal() -> None:
    submission = _request(
        "U.S. Attorney's Office, Eastern District of Virginia",
        "usavae@usdoj.gov",
        agency_type="federal_law_enforcement",
        kind="court_order",
        issued_by="United States Magistrate Judge, Eastern District of Virginia",
        text="It is ORDERED ... /s/ United States Magistrate Judge, clerk@vaed.uscourts.gov",
    )
    assert _kinds(submission) == []


# --- the policy rule ---------------------------------------------------------------


def _factors(submission: Submission) -> dict[str, str]:
    verdict = classify(submission, AccountDirectory(()), shipped_policy(), RECEIVED)
    return {f.code: f.evidence for f in verdict.risk.factors}


def test_the_rule_quotes_the_signal_as_evidence() -> None:
    factors = _factors(_request("U.S. Customs and Border Protection", "summons@traviscountytx.gov"))
    assert "Travis County" in factors["REQUESTER_IDENTITY_UNVERIFIED"]


def test_a_verified_domain_never_raises_the_factor_even_in_an_emergency() -> None:
    factors = _factors(_request(kind="emergency_request", emergency=True))
    assert "REQUESTER_IDENTITY_UNVERIFIED" not in factors


@pytest.mark.parametrize(
    ("via", "emergency", "raised"),
    [("email", True, True), ("portal", True, False), ("email", False, False)],
)
def test_an_unknown_domain_raises_the_factor_only_for_an_emergency_outside_the_portal(
    via: str, emergency: bool, raised: bool
) -> None:
    submission = _request("Politie Amsterdam", "edr@politie.nl", country="NL",
                          agency_type="foreign_government", via=via,
                          kind="emergency_request" if emergency else "other",
                          emergency=emergency)  # fmt: skip
    assert ("REQUESTER_IDENTITY_UNVERIFIED" in _factors(submission)) is raised


def test_an_emergency_from_a_free_mail_address_raises_the_factor_and_an_unverified_emergency() -> (
    None
):
    submission = _request(
        "Police Department (as claimed)", "detective@gmail.com", kind="emergency_request",
        emergency=True,
    )  # fmt: skip
    factors = _factors(submission)
    assert "gmail.com" in factors["REQUESTER_IDENTITY_UNVERIFIED"]
    assert "UNVERIFIED_EMERGENCY" in factors


@pytest.mark.parametrize(
    "text",
    [
        "The parent signed a consent form; her address is parent.person@gmail.com.",
        "Regards to the victim's family (family.contact@gmail.com) were passed on.",
    ],
)
def test_an_address_that_is_not_in_a_signature_block_is_no_signature_signal(text: str) -> None:
    assert _kinds(_request(text=text, kind="emergency_request")) == []


@pytest.mark.parametrize(
    "closing", ["Sincerely,\n", "Respectfully submitted,\n", "Kind regards,\n", "/s/ "]
)
def test_each_closing_opens_the_signature_block(closing: str) -> None:
    text = f"Provide the records today.\n{closing}Detective Desk, desk.pd@gmail.com"
    assert _kinds(_request(text=text, kind="emergency_request")) == [SignalKind.SIGNATURE_MISMATCH]


@pytest.mark.parametrize(
    ("text", "raised"),
    [
        ("Provide the subscriber's name, personal e-mail and phone number.", False),
        ("Do not call the subscriber or tell them about this request.", False),
        ("Note: sent from a compromised police mailbox; the agency disowns it.", True),
        ("The detective is in the field and cannot take calls; reply only by e-mail.", True),
        ("This request was sent from a personal email account of the officer.", True),
    ],
)
def test_the_documents_own_words_about_the_sender_raise_the_factor(text: str, raised: bool) -> None:
    factors = _factors(_request(text=text))
    assert ("REQUESTER_IDENTITY_UNVERIFIED" in factors) is raised


@pytest.mark.parametrize(
    ("agency", "email"),
    [
        ("United States District Court, Eastern District of Virginia", "usavae@usdoj.gov"),
        ("Travis County Sheriff's Office", "clerk@efiletexas.gov"),
        ("Seattle Police Department", "clerk@chelancountywa.gov"),
    ],
)
def test_a_court_and_the_agency_that_applied_to_it_may_send_each_others_papers(
    agency: str, email: str
) -> None:
    assert _kinds(_request(agency, email, kind="court_order")) == []


def test_a_local_body_on_its_own_states_domain_is_no_signal_but_on_another_state_is() -> None:
    assert _kinds(_request("Seattle Police Department", "records@wa.gov")) == []
    assert _kinds(_request("Seattle Police Department", "records@texas.gov")) == [
        SignalKind.NOT_THE_NAMED_AGENCY
    ]
