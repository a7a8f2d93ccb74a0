"""The Kubernetes manifests in deploy/k8s, rendered as kustomize would and validated.

kustomize is not installed, so ``render`` implements the part of it the manifests use:
``resources`` (files and directories with a kustomization.yaml), ``namespace``,
``labels``, ``images`` (``newTag``) and strategic-merge ``patches`` (maps merged
recursively, lists of named items merged by ``name``). Core kinds are checked with
kubernetes-validate (strict schemas: unknown fields fail), Strimzi and KEDA resources
against the ``openAPIV3Schema`` of their CRDs from ../shared/testdata/k8s-crds (read in
place), with unknown fields refused as the API server's strict field validation does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from shared.kafka_acl import (
    LAG_READER,
    SERVICE_ACCESS,
    AclRule,
    acl_rules,
    lag_reader_rules,
    principal_of,
)
from shared.topics import PARTITIONS, retention_configs

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
CRDS = REPO.parent / "shared" / "testdata" / "k8s-crds"
KUBERNETES_VERSION = "1.33"
OVERLAYS = [K8S / "base", K8S / "overlays" / "production"]
PORTS = {"intake": 8080, "classifier": 8081, "notifier": 8082, "audit": 8083}
ADMIN_PORTS = {"intake": 9180, "classifier": 9181, "notifier": 9182, "audit": 9183}
#: The services whose API the ingress controller may reach.
PUBLIC_APIS = {"intake", "audit"}
CONSUMER_GROUPS = {
    "docket-classifier": "docket-classifier",
    "docket-notifier": "docket-notifier",
    "docket-audit": "docket-audit-ingest",
}

Manifest = dict[str, Any]


def _key(manifest: Manifest) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge, as far as the manifests need it."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in base + patch)
    ):
        by_name = {item["name"]: item for item in base}
        result = [merge(by_name[i["name"]], i) if i["name"] in by_name else i for i in patch]
        patched = {item["name"] for item in patch}
        return [item for item in base if item["name"] not in patched] + result
    return copy.deepcopy(patch)


def _documents(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[Manifest]:
    """The manifests ``kustomize build directory`` would print (for the features used)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}
    unsupported = set(kustomization) - known
    assert not unsupported, f"render() does not implement {unsupported}"
    manifests: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        manifests += render(path) if path.is_dir() else _documents(path)
    for patch_entry in kustomization.get("patches", []):
        for patch in _documents(directory / patch_entry["path"]):
            targets = [i for i, m in enumerate(manifests) if _key(m) == _key(patch)]
            assert len(targets) == 1, f"patch {_key(patch)} matches {len(targets)} resources"
            manifests[targets[0]] = merge(manifests[targets[0]], patch)
    for image in kustomization.get("images", []):
        for container in _containers(manifests):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    for manifest in manifests:
        if "namespace" in kustomization:
            manifest["metadata"]["namespace"] = kustomization["namespace"]
        for label in kustomization.get("labels", []):
            manifest["metadata"].setdefault("labels", {}).update(label["pairs"])
    return manifests


def _containers(manifests: list[Manifest]) -> Iterator[dict[str, Any]]:
    for manifest in manifests:
        if manifest["kind"] == "Deployment":
            yield from manifest["spec"]["template"]["spec"]["containers"]


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object listing its
    properties, unless it keeps unknown fields (as the API server's strict validation)."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    return closed


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the closed openAPIV3Schema of every CRD in ../shared."""
    assert CRDS.is_dir(), f"CRDs expected in place at {CRDS}"
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = _closed(version["schema"]["openAPIV3Schema"])
                # metadata is ObjectMeta, checked by the API server itself.
                schema["properties"]["metadata"] = {"type": "object"}
                schemas[f"{group}/{version['name']}", kind] = schema
    return schemas


#: Strimzi's KafkaUser (v1) as far as Docket uses it, closed like the CRDs above, until
#: ``strimzi-044-Crd-kafkauser.yaml`` is among ../shared's CRDs (then that is used).
_NAME = {"type": "string"}
KAFKA_USER_SCHEMA: dict[str, Any] = _closed(
    {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": _NAME,
            "kind": _NAME,
            "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "spec": {
                "type": "object",
                "properties": {
                    "authentication": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"enum": ["tls", "tls-external", "scram-sha-512"]}
                        },
                    },
                    "authorization": {
                        "type": "object",
                        "required": ["acls", "type"],
                        "properties": {
                            "type": {"enum": ["simple"]},
                            "acls": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["resource", "operations"],
                                    "properties": {
                                        "type": {"enum": ["allow", "deny"]},
                                        "host": _NAME,
                                        "resource": {
                                            "type": "object",
                                            "required": ["type"],
                                            "properties": {
                                                "name": _NAME,
                                                "patternType": {"enum": ["literal", "prefix"]},
                                                "type": {
                                                    "enum": [
                                                        "topic", "group", "cluster",
                                                        "transactionalId",
                                                    ]
                                                },
                                            },
                                        },
                                        "operations": {
                                            "type": "array",
                                            "items": {
                                                "enum": [
                                                    "Read", "Write", "Create", "Delete",
                                                    "Alter", "Describe", "ClusterAction",
                                                    "AlterConfigs", "DescribeConfigs",
                                                    "IdempotentWrite", "All",
                                                ]
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
)  # fmt: skip


def validate(manifest: Manifest) -> None:
    """Raise if ``manifest`` does not match its Kubernetes or CRD schema."""
    key = (manifest["apiVersion"], manifest["kind"])
    crd = crd_schemas().get(key)
    if crd is None and key == ("kafka.strimzi.io/v1", "KafkaUser"):
        crd = KAFKA_USER_SCHEMA
    if crd is not None:
        jsonschema.validate(manifest, crd)
    elif manifest["apiVersion"].endswith((".strimzi.io/v1", "keda.sh/v1alpha1")):
        raise AssertionError(f"no CRD for {manifest['apiVersion']} {manifest['kind']}")
    else:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.fixture(scope="module", params=OVERLAYS, ids=lambda path: path.name)
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    rendered = render(request.param)
    keys = [_key(manifest) for manifest in rendered]
    assert len(keys) == len(set(keys)), "duplicate resources"
    return rendered


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_every_manifest_is_valid(manifests: list[Manifest]) -> None:
    kinds = {manifest["kind"] for manifest in manifests}
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret"} <= kinds
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "ScaledObject"} <= kinds
    assert "NetworkPolicy" in kinds
    for manifest in manifests:
        validate(manifest)


def test_deployments_have_probes_resources_and_run_as_non_root(
    manifests: list[Manifest],
) -> None:
    deployments = of_kind(manifests, "Deployment")
    assert set(deployments) == {f"docket-{name}" for name in PORTS}
    for name, port in PORTS.items():
        pod = deployments[f"docket-{name}"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == ["docket", "serve", name]
        assert container["image"].startswith("docket:")
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named == {"http": port, "admin": ADMIN_PORTS[name]}
        annotations = deployments[f"docket-{name}"]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(ADMIN_PORTS[name])
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {item["name"]: item for item in container["env"]}
        assert env["DOCKET_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == ("metadata.name")
        assert env["DOCKET_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == ("docket-secrets")
        assert container["envFrom"] == [{"configMapRef": {"name": "docket-config"}}]
    config = of_kind(manifests, "ConfigMap")["docket-config"]["data"]
    for name, admin_port in ADMIN_PORTS.items():
        assert config[f"DOCKET_{name.upper()}_ADMIN_PORT"] == str(admin_port)
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == "docket-kafka-bootstrap:9093"
    assert config["DOCKET_HOST"] == "0.0.0.0"
    services = of_kind(manifests, "Service")
    budgets = of_kind(manifests, "PodDisruptionBudget")
    assert set(services) == set(budgets) == set(deployments)


def test_a_job_migrates_as_the_owner_and_each_service_has_its_own_role(
    manifests: list[Manifest],
) -> None:
    (job,) = of_kind(manifests, "Job").values()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["docket", "migrate"]
    assert container["envFrom"] == [{"secretRef": {"name": "docket-migration"}}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    migration = of_kind(manifests, "Secret")["docket-migration"]["stringData"]
    assert "//docket_owner:" in migration["DOCKET_MIGRATION_DATABASE_URL"]
    secrets = of_kind(manifests, "Secret")["docket-secrets"]["stringData"]
    assert "DOCKET_DATABASE_URL" not in secrets  # no shared role any more
    for name in PORTS:
        pod = of_kind(manifests, "Deployment")[f"docket-{name}"]["spec"]["template"]["spec"]
        (service,) = pod["containers"]
        env = {item["name"]: item for item in service["env"]}
        key = env["DOCKET_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"]
        assert key == f"DOCKET_{name.upper()}_DATABASE_URL"
        assert f"docket_{name}:" in secrets[key]
        assert "docket-migration" not in str(pod)
    config = of_kind(manifests, "ConfigMap")["docket-config"]["data"]
    assert config["DOCKET_DATABASE_SSLMODE"] == "verify-full"


def test_scaled_consumers_never_outnumber_partitions(manifests: list[Manifest]) -> None:
    scaled = of_kind(manifests, "ScaledObject")
    assert set(scaled) == set(CONSUMER_GROUPS)
    for name, scaled_object in scaled.items():
        spec = scaled_object["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicaCount"] >= 1
        triggers = spec["triggers"]
        assert triggers
        assert all(t["type"] == "kafka" for t in triggers)
        assert {t["metadata"]["consumerGroup"] for t in triggers} == {CONSUMER_GROUPS[name]}
        partitions = max(PARTITIONS[t["metadata"]["topic"]] for t in triggers)
        assert spec["maxReplicaCount"] <= partitions, name


def test_topics_match_shared_topics(manifests: list[Manifest]) -> None:
    topics = {t["spec"]["topicName"]: t for t in of_kind(manifests, "KafkaTopic").values()}
    assert set(topics) == set(PARTITIONS)
    for name, topic in topics.items():
        assert topic["spec"]["partitions"] == PARTITIONS[name], name
        assert topic["spec"]["replicas"] == 3
        config = {key: str(value) for key, value in topic["spec"]["config"].items()}
        assert retention_configs(name).items() <= config.items(), name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "docket"
    (kafka,) = of_kind(manifests, "Kafka").values()
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == 3
    (pool,) = of_kind(manifests, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]


def _rules_of(user: Manifest) -> list[AclRule]:
    """A KafkaUser's ACLs in the code's terms (one rule per operation)."""
    assert user["spec"]["authorization"]["type"] == "simple"
    rules = []
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow"
        assert acl.get("host", "*") == "*"
        resource = acl["resource"]
        for operation in acl["operations"]:
            rules.append(
                AclRule(
                    user["metadata"]["name"],
                    resource["type"],
                    resource["name"],
                    resource.get("patternType", "literal"),
                    operation,
                )
            )
    return sorted(rules)


def test_kafka_users_have_exactly_the_acls_of_the_code(manifests: list[Manifest]) -> None:
    users = of_kind(manifests, "KafkaUser")
    expected = {access.principal: acl_rules(access) for access in SERVICE_ACCESS.values()}
    expected[LAG_READER] = lag_reader_rules()
    assert set(users) == set(expected)
    for name, user in users.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "docket"
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert _rules_of(user) == expected[name], name


def test_kafka_is_reached_only_over_tls_with_authentication(manifests: list[Manifest]) -> None:
    (kafka,) = of_kind(manifests, "Kafka").values()
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"]["type"] == "scram-sha-512", listener["name"]
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert kafka["spec"]["entityOperator"]["userOperator"] == {}
    (port,) = {listener["port"] for listener in listeners}
    config = of_kind(manifests, "ConfigMap")["docket-config"]["data"]
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == f"docket-kafka-bootstrap:{port}"
    assert config["DOCKET_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["DOCKET_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    for name in PORTS:
        pod = of_kind(manifests, "Deployment")[f"docket-{name}"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {item["name"]: item for item in container["env"]}
        assert env["DOCKET_KAFKA_USERNAME"]["value"] == principal_of(name)
        assert env["DOCKET_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": principal_of(name),  # the Secret the User Operator writes
            "key": "password",
        }
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "kafka-ca"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
        assert volume["secret"]["secretName"] == "docket-cluster-ca-cert"
        assert config["DOCKET_KAFKA_SSL_CAFILE"] == f"{mount['mountPath']}/ca.crt"
    for scaled in of_kind(manifests, "ScaledObject").values():
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] == "docket-kafka-lag"
            assert trigger["metadata"]["bootstrapServers"] == config["KAFKA_BOOTSTRAP_SERVERS"]
            assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == (
                "scram_sha512",
                "enable",
            )
    secrets = of_kind(manifests, "Secret")["docket-secrets"]["stringData"]
    assert secrets["KAFKA_LAG_USERNAME"] == LAG_READER


def test_production_overlay_scales_up_and_pins_the_image() -> None:
    base = {_key(m): m for m in render(K8S / "base")}
    production = {_key(m): m for m in render(K8S / "overlays" / "production")}
    assert base.keys() == production.keys()
    for name in PORTS:
        key = ("Deployment", f"docket-{name}")
        assert production[key]["spec"]["replicas"] >= base[key]["spec"]["replicas"]
        (container,) = production[key]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "docket:0.1.0"
        assert container["livenessProbe"]  # the patch merged, it did not replace
        assert container["resources"]["limits"]["memory"] == "1Gi"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector matches ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        present, value = key in labels, labels.get(key)
        matched = {
            "In": present and value in expression.get("values", []),
            "NotIn": value not in expression.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not matched:
            return False
    return True


def _policies_of(manifests: list[Manifest], labels: dict[str, str], kind: str) -> list[Manifest]:
    """The NetworkPolicies of ``kind`` (Ingress or Egress) selecting pods with ``labels``."""
    return [
        policy
        for policy in of_kind(manifests, "NetworkPolicy").values()
        if kind in policy["spec"]["policyTypes"] and selects(policy["spec"]["podSelector"], labels)
    ]


def _namespaces(rule: dict[str, Any], direction: str) -> set[str]:
    peers = rule.get(direction, [])
    return {
        peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
        or "(this namespace)"
        for peer in peers
    }


def test_every_deployment_is_selected_by_network_policies(manifests: list[Manifest]) -> None:
    policies = of_kind(manifests, "NetworkPolicy")
    deny = policies["docket-default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}, "ingress denied by default"
    for name in PORTS:
        deployment = of_kind(manifests, "Deployment")[f"docket-{name}"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        ingress = _policies_of(manifests, labels, "Ingress")
        egress = _policies_of(manifests, labels, "Egress")
        assert ingress, f"docket-{name}: no NetworkPolicy limits what reaches it"
        assert egress, f"docket-{name}: no NetworkPolicy limits where it may connect"
        # what reaches the pod: port -> the namespaces it is admitted from
        admitted: dict[Any, set[str]] = {}
        for policy in ingress:
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']} admits everyone"
                for port in rule["ports"]:
                    admitted.setdefault(port["port"], set()).update(_namespaces(rule, "from"))
        expected = {"admin": {"monitoring"}}
        if name in PUBLIC_APIS:
            expected["http"] = {"ingress-nginx"}
        assert admitted == expected, name
        # where the pod may go: DNS, Kafka (its TLS listener only), PostgreSQL at least
        reachable = {
            (port["port"], port["protocol"])
            for policy in egress
            for rule in policy["spec"]["egress"]
            for port in rule["ports"]
        }
        assert {(53, "UDP"), (9093, "TCP"), (5432, "TCP")} <= reachable, name
        assert (9092, "TCP") not in reachable, f"{name} may reach a plaintext Kafka port"
        if name != "notifier":
            assert (587, "TCP") not in reachable, f"{name} may send e-mail"
        # HTTPS out: the notifier's webhook, audit's deadline alerts (docs/deadlines.md)
        assert ((443, "TCP") in reachable) is (name in ("notifier", "audit")), name


def test_the_service_ports_follow_the_container_ports(manifests: list[Manifest]) -> None:
    services = of_kind(manifests, "Service")
    for name, port in PORTS.items():
        exposed = {p["name"]: p["port"] for p in services[f"docket-{name}"]["spec"]["ports"]}
        assert exposed == {"http": port, "admin": ADMIN_PORTS[name]}


def _typo(manifest: Manifest, path: tuple[str | int, ...], wrong: str) -> Manifest:
    broken = copy.deepcopy(manifest)
    node: Any = broken
    for step in path[:-1]:
        node = node[step]
    node[wrong] = node.pop(path[-1])
    return broken


@pytest.mark.parametrize(
    ("kind", "name", "path", "wrong"),
    [
        (
            "Deployment",
            "docket-intake",
            ("spec", "template", "spec", "containers", 0, "readinessProbe"),
            "readynessProbe",
        ),
        ("Service", "docket-audit", ("spec", "selector"), "selectr"),
        ("ScaledObject", "docket-notifier", ("spec", "maxReplicaCount"), "maxReplicasCount"),
        ("KafkaTopic", "docket-audit-ledger", ("spec", "partitions"), "partition"),
        ("Kafka", "docket", ("spec", "kafka", "listeners"), "listener"),
        ("KafkaUser", "docket-notifier", ("spec", "authorization", "acls"), "acl"),
        ("NetworkPolicy", "docket-api-from-ingress", ("spec", "podSelector"), "podSelectr"),
    ],
)
def test_a_typo_fails_validation(
    kind: str, name: str, path: tuple[str | int, ...], wrong: str
) -> None:
    manifest = of_kind(render(K8S / "overlays" / "production"), kind)[name]
    validate(manifest)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate(_typo(manifest, path, wrong))
