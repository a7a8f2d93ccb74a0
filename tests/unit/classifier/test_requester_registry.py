"""The agency registry: the shipped copy of the .gov registry, domains under registered
parents, which organisations a name means, look-alike domains, the operator's file and
the refresh command."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from services.classifier.domain.agencies import (
    AgencyKind,
    AgencyRecord,
    AgencyRegistry,
    LookAlikeHow,
    place_of,
    skeleton,
)
from services.classifier.registry import (
    DOTGOV_FILE,
    RegistryError,
    load_agency_registry,
    read_records,
    snapshot_of,
)
from services.classifier.registry.refresh import derive
from shared.cli import main

#: The public registry as published, beside the project (../shared/data/dotgov).
SOURCE = Path(__file__).resolve().parents[3].parent / "shared/data/dotgov/current-full.csv"
PUNYCODE_DHS = "d\u04bbs".encode("idna").decode("ascii") + ".gov"  # "dһs.gov" as sent
REGISTRY = load_agency_registry()
DHS = "Department of Homeland Security"
HHS = "Department of Health and Human Services"
HOUSE = "United States House of Representatives"
COURTS = "Administrative Office of the United States Courts"


def _organisation(domain: str) -> str:
    record = REGISTRY.lookup(domain)
    assert record is not None, domain
    return record.organisation


def test_the_shipped_copy_holds_every_registered_domain_without_contact_addresses() -> None:
    rows = list(csv.reader(line for line in DOTGOV_FILE.open() if not line.startswith("#")))
    assert rows[0][:3] == ["domain", "type", "organisation"]
    assert len(rows) - 1 > 16_000
    assert not any("@" in cell for row in rows for cell in row)
    assert snapshot_of(DOTGOV_FILE) == "2026-08-22"
    assert REGISTRY.source == "the .gov registry of 2026-08-22"


@pytest.mark.parametrize(
    ("domain", "organisation"),
    [
        ("cbp.dhs.gov", "Department of Homeland Security"),
        ("ice.dhs.gov", "Department of Homeland Security"),
        ("fbi.gov", "Department of Justice"),
        ("usdoj.gov", "Department of Justice"),
        ("mcso.maricopa.gov", "Maricopa County"),
        ("police.portlandoregon.gov", "City of Portland"),
        ("oig.hhs.gov", "Department of Health and Human Services"),
        ("CBP.DHS.GOV.", "Department of Homeland Security"),
    ],
)
def test_a_subdomain_belongs_to_its_registered_parents_organisation(
    domain: str, organisation: str
) -> None:
    assert _organisation(domain) == organisation


def test_the_seed_knows_mil_foreign_namespaces_and_free_mail() -> None:
    navy = REGISTRY.lookup("ncis.navy.mil")
    uk = REGISTRY.lookup("met.police.uk")
    gmail = REGISTRY.lookup("gmail.com")
    assert navy is not None
    assert navy.kind is AgencyKind.FEDERAL
    assert uk is not None
    assert (uk.kind, uk.country) == (AgencyKind.GOVERNMENT_NAMESPACE, "GB")
    assert gmail is not None
    assert gmail.kind is AgencyKind.FREE_MAIL
    assert REGISTRY.lookup("exampleville-pd.gov") is None
    assert REGISTRY.lookup("om.nl") is None


@pytest.mark.parametrize(
    ("organisation", "place"),
    [
        ("City of Riverside, California", "riverside"),
        ("Travis County Information Technology Services", "travis"),
        ("City of Norfolk Nebraska", "norfolk"),
        ("Chesterfield County, VA", "chesterfield"),
        ("Los Angeles Police Department", "los angeles"),
        ("Government of the District of Columbia", "district of columbia"),
        ("Town Of Abita Springs", "abita springs"),
        ("County of Los Angeles / Internal Services Department", "los angeles"),
        ("The NYC Office of Technology and Innovation", "nyc"),
        ("Cook County Government - Bureau of Technology", "cook"),
        ("36th District Court", "36th"),
    ],
)
def test_a_local_government_is_known_by_its_place(organisation: str, place: str) -> None:
    record = AgencyRecord(domain="x.gov", type="City", organisation=organisation, state="CA")
    assert " ".join(place_of(record)) == place


@pytest.mark.parametrize(
    ("text", "organisation"),
    [
        ("U.S. Customs and Border Protection, Office of Professional Responsibility", DHS),
        ("CBP Office of Field Operations", DHS),
        ("Homeland Security Investigations", DHS),
        ("Federal Bureau of Investigation, Boston Field Office", "Department of Justice"),
        ("FBI Miami", "Department of Justice"),
        ("United States Attorney's Office for the District of Columbia", "Department of Justice"),
        ("Drug Enforcement Administration, Atlanta Division", "Department of Justice"),
        ("Internal Revenue Service", "Department of the Treasury"),
        ("Office of Inspector General, Department of Health and Human Services", HHS),
        ("U.S. House of Representatives, Select Committee", HOUSE),
        ("United States District Court, Central District of California", COURTS),
        ("Seattle Police Department", "City of Seattle"),
        ("Travis County Sheriff's Office", "Travis County"),
        ("Maricopa County Sheriff's Office", "Maricopa County"),
    ],
)  # fmt: skip
def test_an_agency_name_names_its_registered_organisation(text: str, organisation: str) -> None:
    named = REGISTRY.named_in(text)
    assert organisation in {REGISTRY.name_of(k) for k in named.confident}


@pytest.mark.parametrize(
    "text",
    [
        "Police Department (as claimed)",
        "Criminal Investigations Division (name as shown on letterhead)",
        "Office of the Secretary",
        "Metropolitan Police Service",
        "",
    ],
)
def test_a_name_of_no_body_in_particular_names_nothing_confidently(text: str) -> None:
    assert not REGISTRY.named_in(text).confident


def test_a_place_beside_a_court_district_is_only_a_possible_mention() -> None:
    named = REGISTRY.named_in("U.S. Attorney's Office, Eastern District of Michigan")
    names = {REGISTRY.name_of(k) for k in named.confident}
    assert names == {"Department of Justice"}
    assert any("Michigan" in REGISTRY.name_of(k) for k in named.possible)


@pytest.mark.parametrize(
    ("domain", "imitated", "how"),
    [
        ("dhs-gov.com", "dhs.gov", LookAlikeHow.EMBEDDED),
        ("cbp.dhs.gov.us", "dhs.gov", LookAlikeHow.EMBEDDED),
        ("fbi.gov.co", "fbi.gov", LookAlikeHow.EMBEDDED),
        ("fbigov.com", "fbi.gov", LookAlikeHow.EMBEDDED),
        ("secure-mail.fbi-gov.net", "fbi.gov", LookAlikeHow.EMBEDDED),
        ("riversideca-gov.org", "riversideca.gov", LookAlikeHow.EMBEDDED),
        ("d\u04bbs.gov", "dhs.gov", LookAlikeHow.HOMOGLYPH),  # Cyrillic shha
        ("cbp.d\u04bbs.gov", "dhs.gov", LookAlikeHow.HOMOGLYPH),
        ("usd\u03bfj.gov", "usdoj.gov", LookAlikeHow.HOMOGLYPH),  # Greek omicron
        ("usd0j.gov", "usdoj.gov", LookAlikeHow.HOMOGLYPH),
        ("fbl.gov", "fbi.gov", LookAlikeHow.HOMOGLYPH),
        (PUNYCODE_DHS, "dhs.gov", LookAlikeHow.HOMOGLYPH),
        ("usdoi.gov", "usdoj.gov", LookAlikeHow.TYPO),
        ("secretservlce.gov", "secretservice.gov", LookAlikeHow.HOMOGLYPH),
        ("secretsevrice.gov", "secretservice.gov", LookAlikeHow.TYPO),
    ],
)
def test_a_look_alike_names_the_domain_it_imitates(
    domain: str, imitated: str, how: LookAlikeHow
) -> None:
    found = REGISTRY.look_alike(domain)
    assert found is not None, domain
    assert (found.imitated.domain, found.how) == (imitated, how)


@pytest.mark.parametrize(
    "domain",
    ["cbp.dhs.gov", "fbi.gov", "seattle.gov", "police.portlandoregon.gov", "lacity.org",
     "om.nl", "gmail.com", "counsel.example", "riversidecountyca.com"],
)  # fmt: skip
def test_registered_and_unrelated_domains_imitate_nothing(domain: str) -> None:
    assert REGISTRY.look_alike(domain) is None


def test_homoglyph_skeletons_fold_foreign_scripts_and_ascii_tricks() -> None:
    assert skeleton("d\u04bbs.gov") == skeleton("dhs.gov")
    assert skeleton("rnaricopa.gov") == skeleton("maricopa.gov")
    assert skeleton("seattle.gov") != skeleton("seatle.gov")


def test_the_operators_file_adds_agencies_and_overrides_the_shipped_rows(tmp_path: Path) -> None:
    extra = tmp_path / "agencies.csv"
    extra.write_text(
        "# the operator's agencies\n"
        "domain,type,organisation,country,aliases\n"
        "om.nl,Foreign government,Openbaar Ministerie,NL,Netherlands Public Prosecution Service\n"
        "fbi.gov,Federal - Executive,Federal Bureau of Investigation,US,\n",
        encoding="utf-8",
    )
    registry = load_agency_registry(extra)
    om = registry.lookup("epoc.om.nl")
    assert om is not None
    assert (om.organisation, om.kind) == (
        "Openbaar Ministerie",
        AgencyKind.FOREIGN,
    )
    assert registry.lookup("fbi.gov").organisation == "Federal Bureau of Investigation"  # type: ignore[union-attr]
    named = registry.named_in("Netherlands Public Prosecution Service (Openbaar Ministerie)")
    assert om.key in named.confident
    assert len(registry) == len(REGISTRY) + 1


def test_an_alias_row_for_an_unregistered_domain_is_refused(tmp_path: Path) -> None:
    extra = tmp_path / "agencies.csv"
    extra.write_text("domain,type,organisation,aliases\nnowhere.gov,,,Somebody\n")
    with pytest.raises(RegistryError, match=r"nowhere\.gov"):
        load_agency_registry(extra)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("domain,kind,organisation\nx.gov,City,X\n", "header lacks type"),
        ("domain,type,organisation,colour\nx.gov,City,X,red\n", "unknown column"),
        ("domain,type,organisation\nx.gov,City\n", ":2: 2 fields"),
        ("domain,type,organisation\n,City,X\n", ":2: not a valid registry row"),
    ],
)
def test_a_malformed_registry_file_is_refused_with_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "agencies.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        read_records(path)


def test_refresh_derives_the_shipped_format_and_drops_contact_addresses(tmp_path: Path) -> None:
    source = (
        "Domain name,Domain type,Organization name,Suborganization name,City,State,"
        "Security contact email\n"
        "CBP.gov,Federal - Executive,Department of Homeland Security,"
        "U.S. Customs and Border Protection,Washington,DC,soc@cbp.dhs.gov\n"
        "acnj.gov,City,City of Atlantic City,,Atlantic City,NJ,someone@example.org\n"
    )
    text = derive(io.StringIO(source), date(2026, 12, 1))
    assert "@" not in text
    assert "# snapshot: 2026-12-01" in text
    output = tmp_path / "dotgov.csv"
    output.write_text(text)
    records = read_records(output)
    assert [r.domain for r in records] == ["acnj.gov", "cbp.gov"]
    assert AgencyRegistry(records).lookup("x.cbp.gov").suborganisation == (  # type: ignore[union-attr]
        "U.S. Customs and Border Protection"
    )


def test_refresh_command_rewrites_the_file_and_refuses_another_csv(tmp_path: Path) -> None:
    output = tmp_path / "dotgov.csv"
    args = [str(SOURCE), "--snapshot", "2026-08-22", "--output", str(output)]
    assert main(["registry", "refresh", *args]) == 0
    assert output.read_text() == DOTGOV_FILE.read_text()
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    assert main(["registry", "refresh", str(wrong), "--output", str(output)]) == 3
