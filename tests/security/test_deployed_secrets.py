"""The secrets published with the deployments: docker compose starts with
authentication on only because it turns development mode on; the Kubernetes placeholder
is refused, so a cluster cannot start on it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from shared.auth.keys import Role, parse_bootstrap_key
from shared.settings import IntakeSettings

REPO = Path(__file__).resolve().parents[2]


def _compose_intake_env() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    environment: dict[str, Any] = compose["services"]["intake"]["environment"]
    return environment


def _k8s_secret() -> dict[str, str]:
    for document in yaml.safe_load_all((REPO / "deploy/k8s/base/config.yaml").read_text()):
        if document and document.get("kind") == "Secret":
            data: dict[str, str] = document.get("stringData") or {
                k: base64.b64decode(v).decode() for k, v in document["data"].items()
            }
            return data
    raise AssertionError("no Secret in deploy/k8s/base/config.yaml")


def test_compose_runs_with_a_legal_key_in_development_mode_only() -> None:
    env = _compose_intake_env()
    settings = IntakeSettings.model_validate(
        {
            "DOCKET_INTAKE_BOOTSTRAP_KEY": env["DOCKET_INTAKE_BOOTSTRAP_KEY"],
            "development_mode": env["DOCKET_DEVELOPMENT_MODE"],
        }
    )
    assert settings.development_mode is True
    assert settings.bootstrap_key is not None
    key = parse_bootstrap_key(settings.bootstrap_key, settings.development_mode)
    assert key.spec.role is Role.LEGAL
    with pytest.raises(ValueError, match="placeholder"):
        parse_bootstrap_key(settings.bootstrap_key, development_mode=False)


def test_development_mode_is_off_by_default() -> None:
    assert IntakeSettings().development_mode is False


def test_the_kubernetes_placeholder_is_refused() -> None:
    value = SecretStr(_k8s_secret()["DOCKET_INTAKE_BOOTSTRAP_KEY"])
    with pytest.raises(ValueError, match="placeholder"):
        parse_bootstrap_key(value, development_mode=False)
