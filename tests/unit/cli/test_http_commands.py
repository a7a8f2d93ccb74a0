"""The commands that talk to intake and audit, against a small HTTP server on a real
port that answers the way they do (RFC 9457 problems included): --json is parseable,
``-`` reads stdin, the API key travels as a bearer token, and a problem, a 404 or a
refused connection (a real closed port) ends in one stderr line with its exit code."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli.support import REPO, assert_one_error_line, docket, docket_process

KEY = "cli-test-key-0123456789abcdef0123456789"
EXAMPLE = REPO / "examples" / "requests" / "01-customs-summons-anonymous-critic.json"
HISTORY = {
    "request_id": "r-1",
    "state": "notice_sent",
    "classification": {
        "authority": {"code": "CUSTOMS_SUMMONS_1509", "family": "administrative"},
        "risk": {"level": "high"},
        "recommended_action": "challenge",
    },
    "notifications": [],
    "events": [
        {
            "event_id": "e-1",
            "type": "RequestReceived",
            "occurred_at": "2026-01-01T00:00:00Z",
            "leaf_index": 0,
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        }
    ],
}


@dataclass
class Seen:
    """What the server was sent."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


def _problem(status: int, title: str, detail: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def _answer(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    if headers.get("authorization") != f"Bearer {KEY}":
        return _problem(401, "Unauthorized", "a valid API key is required")
    if method == "POST" and path == "/v1/requests":
        document = json.loads(body)
        if "external_ref" not in document:
            return _problem(
                422,
                "Unprocessable Content",
                "the submission is invalid",
                errors=[{"pointer": "/external_ref", "detail": "required field is missing"}],
            )
        return 202, {"request_id": "r-1", "status_url": "http://audit/v1/requests/r-1"}
    if method == "POST" and path in ("/v1/requests/r-1/amendments", "/v1/requests/r-1/decision"):
        return 202, {"request_id": "r-1", "event_id": "e-2"}
    if method == "GET" and path == "/v1/requests/r-1":
        return 200, HISTORY
    return _problem(404, "Not Found", "no such request")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.requests.append((self.command, self.path, headers, body))
            status, document = _answer(self.command, self.path, headers, body)
            payload = json.dumps(document).encode()
            self.send_response(status)
            kind = "application/json" if status < 400 else "application/problem+json"
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def api(server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Seen]:
    base, seen = server
    monkeypatch.setenv("DOCKET_API_KEY", KEY)
    monkeypatch.setenv("DOCKET_INTAKE_URL", base)
    monkeypatch.setenv("DOCKET_AUDIT_URL", base)
    seen.requests.clear()
    return base, seen


def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_submit_sends_the_file_as_is_with_the_key(
    capsys: pytest.CaptureFixture[str], api: tuple[str, Seen]
) -> None:
    _base, seen = api
    ran = docket(capsys, "submit", str(EXAMPLE), "--idempotency-key", "retry-1", "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["request_id"] == "r-1"
    [(method, path, headers, body)] = seen.requests
    assert (method, path, body) == ("POST", "/v1/requests", EXAMPLE.read_bytes())
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["idempotency-key"] == "retry-1"
    text = docket(capsys, "submit", str(EXAMPLE))
    assert text.out == "accepted: r-1\n  status: http://audit/v1/requests/r-1\n"


def test_submit_reads_stdin(capsys: pytest.CaptureFixture[str], api: tuple[str, Seen]) -> None:
    _base, seen = api
    ran = docket(capsys, "submit", "-", "--json", stdin=EXAMPLE.read_bytes())
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["status_url"].endswith("/r-1")
    assert seen.requests[-1][3] == EXAMPLE.read_bytes()


def test_amend_and_decide_json(capsys: pytest.CaptureFixture[str], api: tuple[str, Seen]) -> None:
    _base, seen = api
    ran = docket(capsys, "amend", "r-1", "--nondisclosure-until", "2027-01-01", "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {"request_id": "r-1", "event_id": "e-2"}
    sent = json.loads(seen.requests[-1][3])
    assert sent["nondisclosure"] == {
        "ordered": True,
        "authority": None,
        "expires_at": "2027-01-01T00:00:00+00:00",
    }
    ran = docket(
        capsys,
        *("decide", "r-1", "--outcome", "disclosed", "--data", "ip_logs"),
        *("--data", "subscriber_identity", "--json"),
    )
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["event_id"] == "e-2"
    assert json.loads(seen.requests[-1][3])["data_disclosed"] == ["ip_logs", "subscriber_identity"]


def test_amend_wants_exactly_one_change(capsys: pytest.CaptureFixture[str]) -> None:
    ran = docket(capsys, "amend", "r-1", "--withdraw", "--lift-nondisclosure")
    assert_one_error_line(ran, 2, "docket amend: give exactly one of")


def test_status_and_trace_json(capsys: pytest.CaptureFixture[str], api: tuple[str, Seen]) -> None:
    status = docket(capsys, "status", "r-1", "--json")
    assert status.code == 0, status.err
    assert json.loads(status.out) == HISTORY
    trace = docket(capsys, "trace", "r-1", "--json", "--jaeger-url", "http://jaeger:16686")
    assert trace.code == 0, trace.err
    hops = json.loads(trace.out)["hops"]
    assert hops[0]["jaeger_url"] == "http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    text = docket(capsys, "status", "r-1")
    assert text.out.startswith("request r-1: notice_sent\n")


def test_a_problem_is_one_line_with_its_field_errors_and_exit_5(
    capsys: pytest.CaptureFixture[str], api: tuple[str, Seen], tmp_path: Path
) -> None:
    invalid = tmp_path / "invalid.json"
    invalid.write_text("{}")
    ran = docket(capsys, "submit", str(invalid))
    assert_one_error_line(
        ran,
        5,
        "docket submit: intake answered 422: the submission is invalid; "
        "/external_ref: required field is missing",
    )


def test_a_missing_key_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], api: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKET_API_KEY")
    ran = docket(capsys, "status", "r-1")
    assert_one_error_line(ran, 5, "audit answered 401: a valid API key is required")
    assert api[1].requests[-1][2].get("authorization") is None


@pytest.mark.parametrize(
    "args",
    [
        ("status", "nope"),
        ("trace", "nope"),
        ("amend", "nope", "--withdraw"),
        ("decide", "nope", "--outcome", "no_data"),
    ],
    ids=lambda args: args[0],
)
def test_an_unknown_request_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], api: tuple[str, Seen], args: tuple[str, ...]
) -> None:
    assert_one_error_line(docket(capsys, *args), 1, "unknown request nope")


@pytest.mark.parametrize(
    "args",
    [
        ("submit", str(EXAMPLE), "--intake-url"),
        ("amend", "r-1", "--withdraw", "--intake-url"),
        ("decide", "r-1", "--outcome", "no_data", "--intake-url"),
        ("status", "r-1", "--audit-url"),
        ("trace", "r-1", "--audit-url"),
        ("audit", "verify", "--audit-url"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_refused_connection_is_one_line_and_exit_4(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    ran = docket(capsys, *args, url)
    assert_one_error_line(ran, 4, "cannot reach", url)


def test_a_refused_connection_in_a_real_process_is_one_line_and_exit_4() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    ran = docket_process("status", "r-1", env={"DOCKET_AUDIT_URL": url, "DOCKET_API_KEY": KEY})
    assert_one_error_line(ran, 4, f"docket status: cannot reach audit at {url}/v1/requests/r-1")
    assert KEY not in ran.err
