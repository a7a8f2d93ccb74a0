"""Jaeger, the trace viewer ``make run`` starts and the e2e trace test reads back from.

Built from the Go module proxy on first use (``go_build``), pinned to the approved
release, and run as Jaeger v2's all-in-one with in-memory storage: an OTLP/HTTP
receiver (the services export to it) and the query service (UI and API) on ports the
caller chooses, all bound to 127.0.0.1. A binary built from the Go module carries no UI
assets (Jaeger's releases embed the separate jaeger-ui project), so the query service
serves Docket's own trace viewer instead (``trace_viewer/``, plain static files, set as
``extensions.jaeger_query.ui.assets_path``). Nothing else listens: no gRPC or Thrift
receivers, no Zipkin, no sampling or health endpoints, no self-metrics.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import httpx

from deploy.tools import go_build

MODULE: Final = "github.com/jaegertracing/jaeger"
PACKAGE: Final = "github.com/jaegertracing/jaeger/cmd/jaeger"
VERSION: Final = "v1.75.0"
#: The usual ports, taken when free (``make run``).
OTLP_HTTP_PORT: Final = 4318
UI_PORT: Final = 16686
#: Docket's trace viewer: Jaeger answers its ``index.html`` for every path that is no API
#: route (``/``, ``/trace/<id>``) and serves its ``static/`` folder as files.
VIEWER: Final = Path(__file__).parent / "trace_viewer"

_CONFIG: Final = """\
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: {max_traces}
  jaeger_query:
    storage:
      traces: memory_store
    http:
      endpoint: {host}:{ui_port}
    grpc:
      endpoint: {host}:{query_grpc_port}
    ui:
      assets_path: {viewer}
receivers:
  otlp:
    protocols:
      http:
        endpoint: {host}:{otlp_port}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
"""


def ensure() -> Path:
    """The path of the ``jaeger`` binary, building it into ``.cache/tools/`` the first time."""
    return go_build("jaeger", MODULE, VERSION, PACKAGE)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_or_free(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens on it, else a free port."""
    with socket.socket() as sock:
        try:
            sock.bind((host, preferred))
        except OSError:
            return free_port(host)
    return preferred


def config_text(
    otlp_port: int, ui_port: int, query_grpc_port: int, *, host: str = "127.0.0.1"
) -> str:
    """Jaeger v2's configuration for these ports (memory storage, OTLP/HTTP only)."""
    return _CONFIG.format(
        host=host,
        otlp_port=otlp_port,
        ui_port=ui_port,
        query_grpc_port=query_grpc_port,
        max_traces=50_000,
        viewer=json.dumps(str(VIEWER)),  # a JSON string is a YAML string, spaces and all
    )


@dataclass
class Jaeger:
    """A running Jaeger: where to send spans, where to look at them, how to stop it."""

    otlp_port: int
    ui_port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def otlp_endpoint(self) -> str:
        """The value for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (OTLP/HTTP)."""
        return f"http://127.0.0.1:{self.otlp_port}"

    @property
    def ui_url(self) -> str:
        """The UI, and the value for ``DOCKET_JAEGER_URL`` (``docket trace`` links)."""
        return f"http://127.0.0.1:{self.ui_port}"

    def trace(self, trace_id: str, timeout_s: float = 5.0) -> dict[str, Any] | None:
        """The trace as Jaeger's query API answers it (``/api/traces/<id>``), or None
        while Jaeger has no span of it."""
        response = httpx.get(f"{self.ui_url}/api/traces/{trace_id}", timeout=timeout_s)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json().get("data") or []
        return data[0] if data else None

    def log_tail(self) -> str:
        path = self.workdir / "jaeger.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()


def start(
    otlp_port: int | None = None,
    ui_port: int | None = None,
    *,
    workdir: Path | None = None,
    ready_timeout_s: float = 60.0,
) -> Jaeger:
    """Start Jaeger (building it first if needed) on the given ports, free ones when
    None; returns once its query API answers. Raises ``RuntimeError`` with Jaeger's
    log when it exits or does not answer in time."""
    binary = ensure()
    folder = workdir or Path(tempfile.mkdtemp(prefix="docket-jaeger-"))
    folder.mkdir(parents=True, exist_ok=True)
    otlp = otlp_port or free_port()
    ui = ui_port or free_port()
    config = folder / "jaeger.yaml"
    config.write_text(config_text(otlp, ui, free_port()), encoding="utf-8")
    log = (folder / "jaeger.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "--config", f"file:{config}"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    jaeger = Jaeger(otlp, ui, process, folder, log)
    deadline = time.monotonic() + ready_timeout_s
    while True:
        if process.poll() is not None:
            jaeger.stop()
            raise RuntimeError(f"jaeger exited with {process.returncode}:\n{jaeger.log_tail()}")
        try:
            answer = httpx.get(f"{jaeger.ui_url}/api/services", timeout=2)
            if answer.status_code == 200 and _listening(otlp):
                return jaeger
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            jaeger.stop()
            raise RuntimeError(f"jaeger did not answer within {ready_timeout_s:.0f} s")
        time.sleep(0.2)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def remove_workdir(jaeger: Jaeger) -> None:
    shutil.rmtree(jaeger.workdir, ignore_errors=True)
