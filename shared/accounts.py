"""What the platform knows about an account (contract section 2), and the directory
that finds the account a target names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from shared.submission import Target, handle_key


class Account(BaseModel):
    """One line of the account directory. ``email``, ``phone`` and ``display_name``
    are personal data: never log them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    handle: str
    platform_user_id: str | None = None
    email: str | None = None
    #: the account's verified phone number, in any notation ("+1 555 010 4477")
    phone: str | None = None
    #: the name the account shows ("Jane Q. Doe")
    display_name: str | None = None
    #: the language the account reads, a BCP 47 tag ("es", "pt-BR"); notices use it
    #: when there are templates for it, else the configured default
    locale: str | None = None
    anonymous: bool = False
    verified_identity: bool = False
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "ZZ"
    created_at: date | None = None
    followers: int | None = None
    speech_topics: tuple[str, ...] = ()
    journalist: bool = False
    minor: bool = False


class IdentifierForm(StrEnum):
    """How a demand names an account (``targets[].handle``, contract section 1)."""

    HANDLE = "handle"
    PROFILE_URL = "profile_url"
    EMAIL = "email"
    PHONE = "phone"
    DISPLAY_NAME = "display_name"


_EMAIL = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_URL_START = re.compile(r"^(?:https?://|www\.)", re.IGNORECASE)
_HOST_PATH = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+/", re.IGNORECASE)
#: Path words before the handle in common profile URLs (/user/name, /profile/name).
_URL_PREFIXES = frozenset({"user", "users", "u", "profile", "profiles", "people", "channel", "c"})
#: Query parameters that carry the account (profile.php?id=..., ?user=...).
_URL_PARAMETERS = ("id", "user", "username", "u", "screen_name", "handle")


def identifier_form(identifier: str) -> IdentifierForm:
    value = identifier.strip()
    if _URL_START.match(value) or _HOST_PATH.match(value):
        return IdentifierForm.PROFILE_URL
    if _EMAIL.match(value):
        return IdentifierForm.EMAIL
    if _PHONE.match(value) and sum(ch.isdigit() for ch in value) >= 7:
        return IdentifierForm.PHONE
    if " " in value or "@" in value.lstrip("@"):
        return IdentifierForm.DISPLAY_NAME
    return IdentifierForm.HANDLE


def phone_key(number: str) -> str:
    """Digits only, E.164-like: a leading ``00`` dropped, and a ten-digit number taken
    as North American (``1`` prepended), so ``(555) 010-4477``, ``+1 555 010 4477``
    and ``001-555-010-4477`` are one number."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.strip().startswith("00") or digits.startswith("00"):
        digits = digits[2:]
    return "1" + digits if len(digits) == 10 else digits


def display_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def handles_in_url(url: str) -> tuple[str, ...]:
    """The handle (or user id) a profile URL names, from its common shapes:
    ``/@name``, ``/name``, ``/user/name``, ``?id=123``. Most likely first."""
    parsed = urlsplit(url if "://" in url else "https://" + url)
    found: list[str] = []
    query = parse_qs(parsed.query)
    for parameter in _URL_PARAMETERS:
        found.extend(query.get(parameter, ()))
    segments = [unquote(s) for s in parsed.path.split("/") if s]
    for position, segment in enumerate(segments):
        if segment.startswith("@") and len(segment) > 1:
            found.insert(0, segment)
            break
        if segment.casefold().startswith("user:") and len(segment) > 5:  # /wiki/User:Name
            found.insert(0, segment[5:])
            break
        if segment.casefold() in _URL_PREFIXES and position + 1 < len(segments):
            found.append(segments[position + 1])
            break
        if position == 0 and "." not in segment:
            found.append(segment)
    return tuple(dict.fromkeys(found))


def url_key(url: str) -> str:
    """A profile URL without scheme, ``www.``, query or trailing slash, lower-cased."""
    parsed = urlsplit(url if "://" in url else "https://" + url)
    host = parsed.netloc.casefold().removeprefix("www.")
    return host + unquote(parsed.path).rstrip("/").casefold()


#: "instagram:name", "yelp:Display Name", "mailto:a@b", "tel:+1...": a platform or
#: scheme prefix before the identifier itself (not a URL's "https://").
_PREFIXED = re.compile(r"^[A-Za-z][A-Za-z0-9.+-]{1,30}:(?!//)\s*(?P<rest>\S.*)$")


def _keys(form: IdentifierForm, identifier: str) -> list[tuple[IdentifierForm, str]]:
    """The look-up keys of an identifier in ``form``, most specific first; for a
    prefixed one ("instagram:name") also those of what follows the prefix."""
    if not identifier.strip():
        return []
    keys = _form_keys(form, identifier)
    prefixed = _PREFIXED.match(identifier.strip())
    if prefixed is not None and form is not IdentifierForm.PROFILE_URL:
        rest = prefixed.group("rest")
        keys += [k for k in _form_keys(identifier_form(rest), rest) if k not in keys]
    return keys


def _form_keys(form: IdentifierForm, identifier: str) -> list[tuple[IdentifierForm, str]]:
    if form is IdentifierForm.PROFILE_URL:
        url = [(IdentifierForm.PROFILE_URL, url_key(identifier))]
        return url + [(IdentifierForm.HANDLE, handle_key(h)) for h in handles_in_url(identifier)]
    if form is IdentifierForm.HANDLE:
        return [(IdentifierForm.HANDLE, handle_key(identifier))]
    if form is IdentifierForm.EMAIL:
        return [(IdentifierForm.EMAIL, identifier.strip().casefold())]
    if form is IdentifierForm.PHONE:
        key = phone_key(identifier)
        return [(IdentifierForm.PHONE, key)] if key else []
    return [(IdentifierForm.DISPLAY_NAME, display_key(identifier.lstrip("@")))]


@dataclass(frozen=True)
class Resolution:
    """The account a target names, if exactly one."""

    account: Account | None
    #: the form of the identifier matched on (None when matched by platform_user_id)
    form: IdentifierForm | None
    #: how many accounts the identifier matched; above one is ambiguous and none is chosen
    matches: int

    @property
    def ambiguous(self) -> bool:
        return self.matches > 1


class AccountDirectory:
    """In-memory account directory. A target matches by ``platform_user_id`` when it
    gives one. Else by its identifier: first as written, against each account's handle
    (case-insensitive, with or without ``@``); then in its form: a profile URL (the
    same URL, or the handle or id in it), an e-mail address (the account's ``email``), a
    phone number (the account's ``phone``, digits compared) or a display name (the
    account's ``display_name``, case and spacing ignored). An account whose ``handle``
    is itself a URL, a phone number or a display name is found by that form too. An
    identifier that fits several accounts resolves to none."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._count = 0
        self._by_id: dict[str, Account] = {}
        self._by_handle: dict[str, Account] = {}
        self._by_form: dict[tuple[IdentifierForm, str], list[Account]] = {}
        for account in accounts:
            self._count += 1
            if account.platform_user_id:
                self._by_id[account.platform_user_id] = account
            self._by_handle[handle_key(account.handle)] = account
            identifiers = [account.handle, account.email, account.phone, account.display_name]
            forms = [identifier_form(account.handle), IdentifierForm.EMAIL, IdentifierForm.PHONE,
                     IdentifierForm.DISPLAY_NAME]  # fmt: skip
            for form, identifier in zip(forms, identifiers, strict=True):
                for key in _keys(form, identifier or ""):
                    self._by_form.setdefault(key, []).append(account)

    def find(self, target: Target) -> Account | None:
        return self.resolve(target).account

    def resolve(self, target: Target) -> Resolution:
        if target.platform_user_id is not None:
            account = self._by_id.get(target.platform_user_id)
            return Resolution(account, None, 1 if account else 0)
        if target.handle is None:
            return Resolution(None, None, 0)
        form = identifier_form(target.handle)
        exact = self._by_handle.get(handle_key(target.handle))
        if exact is not None:
            return Resolution(exact, form, 1)
        for key in _keys(form, target.handle):
            unique = {id(a): a for a in self._by_form.get(key, ())}
            if len(unique) == 1:
                return Resolution(next(iter(unique.values())), form, 1)
            if unique:
                return Resolution(None, form, len(unique))
        if form is IdentifierForm.PROFILE_URL:  # profile.php?id=<platform_user_id>
            for name in handles_in_url(target.handle):
                if (account := self._by_id.get(name)) is not None:
                    return Resolution(account, form, 1)
        return Resolution(None, form, 0)

    def __len__(self) -> int:
        return self._count

    @classmethod
    def from_setting(cls, path: Path | None) -> AccountDirectory:
        """The directory ``DOCKET_ACCOUNTS_FILE`` names; empty when none is set (every
        target is then "not found", a finding rather than a crash)."""
        return cls.from_jsonl(path) if path is not None else cls(())

    @classmethod
    def from_jsonl(cls, path: Path) -> AccountDirectory:
        """Read a JSON Lines file; a bad line is an error naming the file and line."""
        accounts: list[Account] = []
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    accounts.append(Account.model_validate(json.loads(line)))
                except ValueError as error:
                    raise ValueError(f"{path}:{number}: not a valid account: {error}") from error
        return cls(accounts)
