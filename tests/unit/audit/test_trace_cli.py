"""``docket trace``: the hops of a request history, formatted for people and as JSON."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from services.audit.trace_cli import format_trace, trace_hops, trace_json
from shared.cli import main

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HISTORY: dict[str, Any] = {
    "request_id": "req-1",
    "state": "notice_sent",
    "events": [
        # audit order is not time order: the notice was stored before a late amendment
        {
            "event_id": "e3",
            "type": "UserNotified",
            "occurred_at": "2017-03-14T17:05:01.900Z",
            "leaf_index": 12,
            "trace_id": TRACE,
        },
        {
            "event_id": "e1",
            "type": "RequestReceived",
            "occurred_at": "2017-03-14T17:05:01Z",
            "leaf_index": 10,
            "trace_id": TRACE,
        },
        {
            "event_id": "e2",
            "type": "RequestClassified",
            "occurred_at": "2017-03-14T17:05:01.250000+00:00",
            "leaf_index": 11,
            "trace_id": TRACE,
        },
        {
            "event_id": "e4",
            "type": "DeadLettered",
            "occurred_at": "2017-03-14T17:05:02Z",
            "leaf_index": 13,
            "trace_id": None,
        },
    ],
}


def test_hops_are_in_time_order_with_producer_and_gap() -> None:
    hops = trace_hops(HISTORY, "http://jaeger:16686/")
    assert [(h.type, h.service, h.gap_ms, h.leaf_index) for h in hops] == [
        ("RequestReceived", "intake", None, 10),
        ("RequestClassified", "classifier", 250, 11),
        ("UserNotified", "notifier", 650, 12),
        ("DeadLettered", "a consumer (dead letter)", 100, 13),
    ]
    assert hops[0].occurred_at == "2017-03-14T17:05:01Z"
    assert hops[0].jaeger_url == f"http://jaeger:16686/trace/{TRACE}"
    assert hops[3].jaeger_url is None


def test_text_lists_every_hop_and_each_trace_once() -> None:
    text = format_trace(HISTORY, "http://localhost:16686")
    assert "request req-1  state: notice_sent  hops: 4" in text
    assert "+250" in text
    assert "RequestClassified" in text
    assert "classifier" in text
    assert text.count(f"http://localhost:16686/trace/{TRACE}") == 1


def test_text_without_events() -> None:
    text = format_trace({"request_id": "r", "state": "received", "events": []})
    assert "(no events)" in text
    assert "Jaeger" not in text


def test_json_output() -> None:
    document = trace_json(HISTORY, "http://localhost:16686")
    assert document["request_id"] == "req-1"
    assert [hop["event_id"] for hop in document["hops"]] == ["e1", "e2", "e3", "e4"]
    assert document["traces"] == {TRACE: f"http://localhost:16686/trace/{TRACE}"}
    json.dumps(document)


def _answer(status: int, body: Any) -> Any:
    def get(url: str, headers: dict[str, str], timeout: float) -> httpx.Response:
        assert url == "http://audit:8083/v1/requests/req-1"
        return httpx.Response(status, json=body, request=httpx.Request("GET", url))

    return get


def test_command_prints_the_trace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(httpx, "get", _answer(200, HISTORY))
    assert main(["trace", "req-1", "--audit-url", "http://audit:8083", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hops"][0]["type"] == "RequestReceived"


def test_command_on_unknown_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(httpx, "get", _answer(404, {"detail": "unknown"}))
    assert main(["trace", "req-1", "--audit-url", "http://audit:8083/"]) == 1
    assert "unknown request req-1" in capsys.readouterr().err
