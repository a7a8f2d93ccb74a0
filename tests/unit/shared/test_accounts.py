"""The account directory resolves an account named in every form a demand uses
(contract section 2): handles, profile URLs, e-mail addresses, phone numbers and
display names; an identifier that fits several accounts resolves to none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.accounts import (
    Account,
    AccountDirectory,
    IdentifierForm,
    handles_in_url,
    identifier_form,
    phone_key,
)
from shared.submission import Target

CRITIC = Account(
    handle="@ALT_uscis",
    platform_user_id="tw-8214",
    email="Owner@Example.org",
    phone="+1 (202) 555-0143",
    display_name="Alt  USCIS",
)
NEIGHBOUR = Account(handle="@neighbour", platform_user_id="tw-9", display_name="Sam Lee")
NAMESAKE = Account(handle="@samlee_2", platform_user_id="tw-10", display_name="sam  lee")
DIRECTORY = AccountDirectory([CRITIC, NEIGHBOUR, NAMESAKE])


def _find(identifier: str) -> Account | None:
    return DIRECTORY.find(Target(handle=identifier))


@pytest.mark.parametrize(
    ("identifier", "form"),
    [
        ("@ALT_uscis", IdentifierForm.HANDLE),
        ("alt_uscis", IdentifierForm.HANDLE),
        ("https://social.example/@critic", IdentifierForm.PROFILE_URL),
        ("www.social.example/user/critic", IdentifierForm.PROFILE_URL),
        ("social.example/critic", IdentifierForm.PROFILE_URL),
        ("critic@example.org", IdentifierForm.EMAIL),
        ("+1 (555) 010-4477", IdentifierForm.PHONE),
        ("555.010.4477", IdentifierForm.PHONE),
        ("Jane Q. Doe", IdentifierForm.DISPLAY_NAME),
        ("@jane doe", IdentifierForm.DISPLAY_NAME),
    ],
)
def test_the_form_of_an_identifier_is_recognised(identifier: str, form: IdentifierForm) -> None:
    assert identifier_form(Target(handle=identifier).handle or "") is form


@pytest.mark.parametrize("identifier", ["@ALT_uscis", "@alt_USCIS", "alt_uscis", "  ALT_uscis "])
def test_a_handle_matches_case_insensitively_with_or_without_at(identifier: str) -> None:
    assert _find(identifier) == CRITIC


@pytest.mark.parametrize(
    ("url", "handles"),
    [
        ("https://social.example/@ALT_uscis", ("@ALT_uscis",)),
        ("https://social.example/ALT_uscis?lang=en", ("ALT_uscis",)),
        ("http://www.social.example/user/ALT_uscis/posts", ("ALT_uscis",)),
        ("https://social.example/profile.php?id=tw-8214", ("tw-8214",)),
        ("social.example/u/ALT_uscis", ("ALT_uscis",)),
        ("https://social.example/%40ALT_uscis", ("@ALT_uscis",)),
    ],
)
def test_a_profile_url_yields_the_handle_in_it(url: str, handles: tuple[str, ...]) -> None:
    assert handles_in_url(url)[: len(handles)] == handles


@pytest.mark.parametrize(
    "url",
    [
        "https://social.example/@alt_uscis",
        "https://social.example/ALT_uscis",
        "https://www.social.example/user/alt_uscis",
        "https://social.example/profile.php?id=tw-8214",
        "social.example/@ALT_uscis/",
    ],
)
def test_a_profile_url_finds_the_account(url: str) -> None:
    assert _find(url) == CRITIC


@pytest.mark.parametrize("address", ["owner@example.org", "OWNER@EXAMPLE.ORG"])
def test_an_email_address_matches_the_accounts_email(address: str) -> None:
    assert _find(address) == CRITIC


@pytest.mark.parametrize(
    "number",
    ["+1 (202) 555-0143", "202-555-0143", "(202) 555 0143", "0012025550143", "12025550143"],
)
def test_a_phone_number_matches_in_any_notation(number: str) -> None:
    assert _find(number) == CRITIC


def test_phone_numbers_are_compared_as_digits() -> None:
    assert phone_key("+44 20 7946 0958") == phone_key("0044 20 7946 0958") == "442079460958"
    assert phone_key("202 555 0143") != phone_key("202 555 0144")


@pytest.mark.parametrize("name", ["Alt USCIS", "alt   uscis", "ALT USCIS"])
def test_a_display_name_matches_ignoring_case_and_spacing(name: str) -> None:
    assert _find(name) == CRITIC


def test_a_display_name_several_accounts_share_resolves_to_none_and_says_so() -> None:
    resolution = DIRECTORY.resolve(Target(handle="Sam Lee"))
    assert resolution.account is None
    assert resolution.form is IdentifierForm.DISPLAY_NAME
    assert resolution.matches == 2
    assert resolution.ambiguous


@pytest.mark.parametrize(
    "identifier",
    ["@nobody", "https://social.example/@nobody", "nobody@example.org", "+1 202 555 0199",
     "Nobody Here"],
)  # fmt: skip
def test_an_identifier_matching_no_account_is_not_found(identifier: str) -> None:
    resolution = DIRECTORY.resolve(Target(handle=identifier))
    assert (resolution.account, resolution.matches) == (None, 0)


def test_a_platform_user_id_wins_over_the_identifier() -> None:
    assert DIRECTORY.find(Target(handle="Sam Lee", platform_user_id="tw-8214")) == CRITIC
    assert DIRECTORY.find(Target(handle="@ALT_uscis", platform_user_id="tw-404")) is None


def test_the_jsonl_directory_reads_the_optional_fields(tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    line = {"handle": "@x", "phone": "+1 202 555 0100", "display_name": "Ex Ample", "extra": 1}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    directory = AccountDirectory.from_jsonl(path)
    assert directory.find(Target(handle="ex ample")) is not None
    assert directory.find(Target(handle="(202) 555-0100")) is not None


# Directories (and the case files) often record the identifier the demand used as the
# account's handle itself: a phone number, a profile URL, a display name.
PHONE_HANDLE = Account(handle="+17035550141", platform_user_id="p-1")
URL_HANDLE = Account(handle="t.me/canal_investigado", platform_user_id="p-2")
WIKI_HANDLE = Account(handle="https://en.wikipedia.org/wiki/User:Editor_A", platform_user_id="p-3")
NAME_HANDLE = Account(handle="Jordan  Q. Public", platform_user_id="p-4")
RECORDED = AccountDirectory([PHONE_HANDLE, URL_HANDLE, WIKI_HANDLE, NAME_HANDLE])


@pytest.mark.parametrize(
    ("identifier", "account"),
    [
        ("+17035550141", PHONE_HANDLE),
        ("(703) 555-0141", PHONE_HANDLE),
        ("t.me/canal_investigado", URL_HANDLE),
        ("https://t.me/canal_investigado/", URL_HANDLE),
        ("@canal_investigado", URL_HANDLE),
        ("https://en.wikipedia.org/wiki/User:Editor_A", WIKI_HANDLE),
        ("en.wikipedia.org/wiki/User:editor_a", WIKI_HANDLE),
        ("jordan q. public", NAME_HANDLE),
    ],
)
def test_an_account_whose_handle_is_in_another_form_is_found_by_that_form(
    identifier: str, account: Account
) -> None:
    assert RECORDED.find(Target(handle=identifier)) == account


def test_a_wiki_user_page_names_the_user() -> None:
    assert handles_in_url("https://en.wikipedia.org/wiki/User:Editor_A")[0] == "Editor_A"


@pytest.mark.parametrize(
    "identifier",
    ["instagram:ALT_uscis", "mailto:owner@example.org", "tel:+1-202-555-0143", "site: Alt USCIS"],
)
def test_a_platform_or_scheme_prefix_is_looked_past(identifier: str) -> None:
    assert _find(identifier) == CRITIC
