"""What the platform knows about an account (contract section 2), and the directory
that finds the account a target names."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.submission import Target, handle_key


class Account(BaseModel):
    """One line of the account directory. ``email`` is personal data: never log it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    handle: str
    platform_user_id: str | None = None
    email: str | None = None
    anonymous: bool = False
    verified_identity: bool = False
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "ZZ"
    created_at: date | None = None
    followers: int | None = None
    speech_topics: tuple[str, ...] = ()
    journalist: bool = False
    minor: bool = False


class AccountDirectory:
    """In-memory account directory: a target matches by ``platform_user_id`` when it
    gives one, else by handle (case-insensitive, with or without ``@``)."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._by_id: dict[str, Account] = {}
        self._by_handle: dict[str, Account] = {}
        for account in accounts:
            if account.platform_user_id:
                self._by_id[account.platform_user_id] = account
            self._by_handle[handle_key(account.handle)] = account

    def find(self, target: Target) -> Account | None:
        if target.platform_user_id is not None:
            return self._by_id.get(target.platform_user_id)
        if target.handle is not None:
            return self._by_handle.get(handle_key(target.handle))
        return None

    def __len__(self) -> int:
        return len(self._by_handle)

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
