"""The classifier's pure domain: policy-as-code for legal authority and risk.

No Kafka, HTTP or SQL here; ``services.classifier.handlers`` feeds it and publishes
what it returns."""

from services.classifier.domain.classify import Explanation, classify, explain
from services.classifier.domain.policy import DEFAULT_POLICY_DIR, Policy, load_policy
from services.classifier.domain.yamlnodes import PolicyError

__all__ = [
    "DEFAULT_POLICY_DIR",
    "Explanation",
    "Policy",
    "PolicyError",
    "classify",
    "explain",
    "load_policy",
]
