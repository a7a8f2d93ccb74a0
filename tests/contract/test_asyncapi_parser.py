"""The checked-in AsyncAPI document, validated by AsyncAPI's official parser
(``@asyncapi/parser`` from npm, installed by ``deploy/tools/asyncapi.py``): no
diagnostic at all, not even a hint (errors, warnings, information and hints all fail),
plus the one rule of the spec the parser does not check itself (component keys)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.tools import asyncapi
from shared import contract
from shared.events import CONTENT_TYPE

#: Prints the parser's diagnostics of the document named in argv as a JSON list.
VALIDATE = """
const { Parser } = require('@asyncapi/parser');
const fs = require('fs');
(async () => {
  const { diagnostics } = await new Parser().parse(fs.readFileSync(process.argv[1], 'utf8'));
  const severities = ['error', 'warning', 'information', 'hint'];
  console.log(JSON.stringify(diagnostics.map((d) => ({
    severity: severities[d.severity] || String(d.severity),
    code: d.code,
    path: d.path.join('/'),
    message: d.message,
  }))));
})().catch((error) => { console.error(error); process.exit(2); });
"""
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")


def diagnostics(document: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is needed to run @asyncapi/parser"
    folder = asyncapi.ensure()
    done = subprocess.run(
        [node, "-e", VALIDATE, str(document)],
        env={**os.environ, "NODE_PATH": str(folder / "node_modules")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_the_official_parser_reports_nothing_on_the_checked_in_document() -> None:
    assert diagnostics(contract.ASYNCAPI_FILE) == []


def test_the_parser_would_report_an_old_version_and_a_broken_reference(tmp_path: Path) -> None:
    """The check can fail: the hint on 3.0.0 and the error on a dangling ``$ref``."""
    document = json.loads(contract.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    document["asyncapi"] = "3.0.0"
    message = next(iter(document["components"]["messages"].values()))
    message["headers"] = {"$ref": "#/components/schemas/NoSuchHeaders"}
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(document))
    found = diagnostics(broken)
    codes = {(d["severity"], d["code"]) for d in found}
    assert ("information", "asyncapi-latest-version") in codes, found
    assert any(d["severity"] == "error" for d in found), found


def test_component_keys_follow_the_spec() -> None:
    document = json.loads(contract.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    bad = [
        f"{kind}/{key}"
        for kind, entries in document["components"].items()
        for key in entries
        if not COMPONENT_KEY.match(key)
    ]
    assert bad == []


def test_messages_declare_what_is_really_sent() -> None:
    """Content type, correlation id and headers as Docket's publishers write them
    (``shared.kafka.EventPublisher``: the envelope, key = subject, content-type)."""
    document = contract.asyncapi_document()
    assert document["asyncapi"] == "3.1.0"
    assert document["defaultContentType"] == CONTENT_TYPE
    headers = document["components"]["schemas"]["RecordHeaders"]
    assert headers["properties"]["content-type"]["const"] == CONTENT_TYPE
    assert re.match(
        headers["properties"]["traceparent"]["pattern"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    example = json.loads((contract.EXAMPLES_DIR / "UserNotified.v2.json").read_text())
    for message in document["components"]["messages"].values():
        assert message["contentType"] == CONTENT_TYPE
        assert message["headers"] == {"$ref": "#/components/schemas/RecordHeaders"}
        location = message["correlationId"]["location"]
        assert location == "$message.payload#/subject"
        assert example[location.rpartition("/")[2]] == example["data"]["request_id"]


@pytest.mark.parametrize("key", ["docket.notification:Message:Payload", "a b"])
def test_the_key_rule_refuses_what_the_generator_used_to_write(key: str) -> None:
    assert not COMPONENT_KEY.match(key)
