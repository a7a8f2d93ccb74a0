"""Schemathesis hooks (``SCHEMATHESIS_HOOKS``) of ``test_fuzz.py``: each operation's
calls take the roles' keys in turn, so one run tries every role on every operation, and
each answer's (role, operation, status) is written down for the test to check.

``DOCKET_FUZZ_KEYS`` holds ``{role: secret}`` as JSON; ``DOCKET_FUZZ_LOG`` the file the
answers are appended to, one JSON line each."""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import schemathesis

KEYS: dict[str, str] = json.loads(os.environ["DOCKET_FUZZ_KEYS"])
LOG = os.environ["DOCKET_FUZZ_LOG"]
_turns: dict[str, Iterator[str]] = {}
_lock = threading.Lock()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    with _lock:
        role = next(_turns.setdefault(case.operation.label, itertools.cycle(sorted(KEYS))))
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {KEYS[role]}"}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    secret = str((case.headers or {}).get("Authorization", "")).removeprefix("Bearer ")
    role = next((name for name, key in KEYS.items() if key == secret), "none")
    line = json.dumps(
        {"role": role, "operation": case.operation.label, "status": response.status_code}
    )
    with _lock, open(LOG, "a", encoding="utf-8") as log:
        log.write(line + "\n")
