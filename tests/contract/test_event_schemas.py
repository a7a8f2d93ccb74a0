"""The event contract (engineering item 11): the checked-in JSON Schemas, examples and
AsyncAPI document match the code, changes to a version stay compatible, and every
example (the fixtures of every version ever published) still validates and parses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from shared import contract
from shared.contract import breaking_changes
from shared.events import EVENT_CLASSES, event_version, parse_event

SCHEMAS = contract.schemas()
REAL_EVENTS = contract.EVENTS_DIR
EXAMPLES = list(contract.example_files())


def _checked_in(name: str) -> dict[str, Any]:
    path = contract.EVENTS_DIR / f"{name}.schema.json"
    assert path.exists(), f"{path.name} is missing: run `make contract`"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_checked_in_schema_is_what_the_code_generates(name: str) -> None:
    checked_in = _checked_in(name)
    if checked_in == SCHEMAS[name]:
        return
    breaking = breaking_changes(checked_in, SCHEMAS[name])
    assert not breaking, (
        f"{name} changed incompatibly: {'; '.join(breaking)}. Do not regenerate: keep "
        f"{name} and add a new version of the event (bump VERSION)."
    )
    pytest.fail(f"{name}.schema.json is out of date (a compatible change): run `make contract`")


def test_checked_in_files_are_rendered_stably() -> None:
    for path, content in contract.generated_files().items():
        assert path.read_text(encoding="utf-8") == content, f"run `make contract` ({path.name})"


def test_checked_in_versions_of_the_code_are_compatible() -> None:
    """Every checked-in version the code still has: no breaking change against it."""
    for name, schema in SCHEMAS.items():
        assert breaking_changes(_checked_in(name), schema) == [], name


def test_the_checker_reports_nothing() -> None:
    assert contract.check() == []


def test_every_event_version_has_an_example() -> None:
    names = {name for name, _path in EXAMPLES}
    assert {contract.schema_name(cls) for cls in EVENT_CLASSES} <= names


@pytest.mark.parametrize(("name", "path"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_validates_against_its_schema_and_parses(name: str, path: Path) -> None:
    """The examples are fixtures of every version ever published: each must still
    validate against its version's schema and be read by today's consumers."""
    raw = path.read_text(encoding="utf-8")
    document = json.loads(raw)
    schema = _checked_in(name)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == [], errors
    current_envelope = f"{contract.ENVELOPE_NAME}.v{contract.ENVELOPE_VERSION}"
    assert Draft202012Validator(_checked_in(current_envelope)).is_valid(document)
    envelope, data = parse_event(raw)
    cls, version = event_version(envelope)
    assert f"{cls.EVENT_TYPE}.v{version}" == name
    assert type(data) is cls
    assert data.request_id == envelope.subject


def test_every_older_version_still_read_is_checked_in_and_compatible() -> None:
    older = contract.older_versions()
    assert older, "the first versions of the original events are still read"
    for cls, version in older:
        name = f"{cls.EVENT_TYPE}.v{version}"
        old = _checked_in(name)
        assert contract.unreadable_data(old, SCHEMAS[contract.schema_name(cls)]) == [], name


def test_check_reports_an_older_version_the_model_can_no_longer_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _contract_copy(tmp_path, monkeypatch)
    old = json.loads((REAL_EVENTS / "DecisionRecorded.v1.schema.json").read_text())
    old["$defs"]["DecisionRecorded"]["properties"]["legacy"] = {"type": "string"}
    (events / "DecisionRecorded.v1.schema.json").write_text(contract.dumps(old))
    [problem] = contract.check()
    assert problem.startswith(
        "DecisionRecorded.v1 is no longer readable by DecisionRecorded.v2 "
        "(data.legacy: field removed)"
    ), problem


def test_check_asks_for_an_older_version_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _contract_copy(tmp_path, monkeypatch)
    (events / "UserNotified.v1.schema.json").unlink()
    assert contract.check() == [
        "docs/events/UserNotified.v1.schema.json is missing: restore it from git (read since v1)"
    ]


def test_a_schema_refuses_an_event_of_another_type() -> None:
    for version in (1, 2):
        validator = Draft202012Validator(_checked_in(f"RequestReceived.v{version}"))
        other = contract.EXAMPLES_DIR / f"RequestClassified.v{version}.json"
        assert not validator.is_valid(json.loads(other.read_text()))


def test_a_schema_of_one_version_refuses_the_other_version() -> None:
    v1 = json.loads((contract.EXAMPLES_DIR / "RequestReceived.v1.json").read_text())
    v2 = json.loads((contract.EXAMPLES_DIR / "RequestReceived.v2.json").read_text())
    assert not Draft202012Validator(_checked_in("RequestReceived.v2")).is_valid(v1)
    assert not Draft202012Validator(_checked_in("RequestReceived.v1")).is_valid(v2)


def test_asyncapi_is_what_the_code_generates() -> None:
    checked_in = json.loads(contract.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert checked_in == contract.asyncapi_document(), "run `make contract`"


def test_asyncapi_documents_every_topic_and_event() -> None:
    document = contract.asyncapi_document()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {cls.TOPIC for cls in EVENT_CLASSES}
    schemas = document["components"]["schemas"]
    assert {f"{cls.EVENT_TYPE}Event" for cls in EVENT_CLASSES} <= set(schemas)


def _contract_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    events = tmp_path / "docs" / "events"
    monkeypatch.setattr(contract, "ROOT", tmp_path)
    monkeypatch.setattr(contract, "EVENTS_DIR", events)
    monkeypatch.setattr(contract, "EXAMPLES_DIR", events / "examples")
    monkeypatch.setattr(contract, "ASYNCAPI_FILE", tmp_path / "docs" / "asyncapi.json")
    (tmp_path / "docs").mkdir()
    events.mkdir(parents=True)
    for cls, version in contract.older_versions():  # the history write() never makes
        name = f"{cls.EVENT_TYPE}.v{version}.schema.json"
        (events / name).write_text((REAL_EVENTS / name).read_text())
    contract.write()
    return events


def test_check_asks_for_a_new_version_after_a_breaking_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _contract_copy(tmp_path, monkeypatch)
    path = events / "DecisionRecorded.v2.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["DecisionRecorded"]["properties"]["legacy"] = {"type": "string"}
    path.write_text(contract.dumps(schema))
    [problem] = contract.check()
    assert "DecisionRecorded.v2 changed incompatibly (data.legacy: field removed)" in problem
    assert "add a new event version" in problem


def test_check_asks_to_regenerate_after_a_compatible_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _contract_copy(tmp_path, monkeypatch)
    path = events / "DecisionRecorded.v2.schema.json"
    schema = json.loads(path.read_text())
    del schema["$defs"]["DecisionRecorded"]["properties"]["note"]
    path.write_text(contract.dumps(schema))
    (events / "examples" / "UserNotified.v2.json").unlink()
    assert contract.check() == [
        "docs/events/DecisionRecorded.v2.schema.json is out of date (compatible): "
        "run `make contract`",
        "docs/events/examples/UserNotified.v2.json is missing: run `make contract`",
    ]


def test_write_keeps_existing_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _contract_copy(tmp_path, monkeypatch)
    fixture = events / "examples" / "UserNotified.v2.json"
    fixture.write_text("{}\n")
    assert contract.write() == []
    assert fixture.read_text() == "{}\n"
