"""Who may do what on Docket's Kafka: the one table of principals and their ACLs.

Each service is its own principal (a SCRAM user, or the common name of its client
certificate). It may write only the topics it produces and read only those it
consumes, plus its own consumer groups (every group whose name starts with the
service's prefix). The broker refuses everything else
(``allow.everyone.if.no.acl.found=false``), so a process holding the notifier's
password still cannot forge a ``RequestAmended`` that lifts a gag.

The local launcher (``deploy/kafka``), the Strimzi ``KafkaUser`` resources in
``deploy/k8s`` (checked by ``tests/contract/test_k8s_manifests.py``) and the README's
table all come from :data:`SERVICE_ACCESS`.

What the operations cover (Kafka's implied operations): READ on a topic implies
DESCRIBE (metadata, end offsets: the notifier's amendment barrier); WRITE on a topic
implies DESCRIBE, and since Kafka 3.0 WRITE on any topic also grants the cluster's
IDEMPOTENT_WRITE the idempotent producers need; READ on a group implies DESCRIBE
(committed offsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from shared import topics

#: The super-user of a local broker: creates topics and ACLs, used by tests and tools.
ADMIN_USER: Final = "docket-admin"
#: The brokers' own principal (the common name of their certificate), for the
#: inter-broker and controller listeners.
BROKER_USER: Final = "docket-broker"

Operation = Literal["Read", "Write", "Describe"]
ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefix"]


@dataclass(frozen=True)
class ServiceAccess:
    """What one service's principal is allowed."""

    service: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    #: Consumer groups whose name starts with this (none: the service consumes nothing).
    group_prefix: str | None

    @property
    def principal(self) -> str:
        return f"docket-{self.service}"


@dataclass(frozen=True, order=True)
class AclRule:
    """One ALLOW rule for one principal (resource, pattern, operation), as both the
    broker's CreateAcls and Strimzi's ``KafkaUser.spec.authorization.acls`` say it."""

    principal: str
    resource_type: ResourceType
    name: str
    pattern: PatternType
    operation: Operation


SERVICE_ACCESS: Final[dict[str, ServiceAccess]] = {
    access.service: access
    for access in (
        ServiceAccess(
            service="intake",
            writes=(
                topics.REQUEST_RECEIVED,
                topics.REQUEST_AMENDED,
                topics.REQUEST_DECIDED,
                topics.REQUEST_COUNSEL,
            ),
            reads=(),
            group_prefix=None,
        ),
        ServiceAccess(
            service="classifier",
            writes=(
                topics.REQUEST_CLASSIFIED,
                topics.REQUEST_CLASSIFIED_SHADOW,
                topics.DEADLETTER,
            ),
            reads=(topics.REQUEST_RECEIVED, topics.REQUEST_AMENDED, topics.REQUEST_DECIDED),
            group_prefix="docket-classifier",
        ),
        ServiceAccess(
            service="notifier",
            writes=(topics.NOTIFICATION, topics.DEADLETTER),
            reads=(
                topics.REQUEST_RECEIVED,
                topics.REQUEST_CLASSIFIED,
                topics.REQUEST_AMENDED,
                topics.REQUEST_COUNSEL,
            ),
            group_prefix="docket-notifier",
        ),
        ServiceAccess(
            service="audit",
            writes=(topics.AUDIT_LEDGER, topics.DEADLETTER, topics.DEADLINE),
            reads=(*topics.AUDITED_TOPICS, topics.AUDIT_LEDGER),
            group_prefix="docket-audit",
        ),
    )
}

SERVICES: Final[tuple[str, ...]] = tuple(SERVICE_ACCESS)


def principal_of(service: str) -> str:
    """The Kafka user name of a service (``docket-<service>``)."""
    return SERVICE_ACCESS[service].principal


def acl_rules(access: ServiceAccess) -> list[AclRule]:
    """Every ALLOW rule of one service, sorted."""
    rules = [
        AclRule(access.principal, "topic", topic, "literal", "Write") for topic in access.writes
    ]
    rules += [
        AclRule(access.principal, "topic", topic, "literal", "Read") for topic in access.reads
    ]
    if access.group_prefix is not None:
        rules.append(AclRule(access.principal, "group", access.group_prefix, "prefix", "Read"))
    return sorted(rules)


#: KEDA, which scales the consumers on their lag in Kubernetes (``deploy/k8s``), reads
#: committed offsets and end offsets: DESCRIBE on Docket's groups and topics, nothing
#: more (it can neither read a record nor join a group).
LAG_READER: Final = "docket-keda"


def lag_reader_rules() -> list[AclRule]:
    """The lag reader's rules (Kubernetes only; the local broker has no KEDA)."""
    return sorted(
        [
            AclRule(LAG_READER, "group", "docket-", "prefix", "Describe"),
            AclRule(LAG_READER, "topic", "docket.", "prefix", "Describe"),
        ]
    )


def all_acl_rules() -> list[AclRule]:
    """The ALLOW rules of every service."""
    return sorted(rule for access in SERVICE_ACCESS.values() for rule in acl_rules(access))
