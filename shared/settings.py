"""Settings every service reads from the environment (documented in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth.keys import Role, is_placeholder
from shared.schemas import DEFAULT_ROLE_PREFIX

#: libpq's ``sslmode`` values; ``verify-full`` checks the server's certificate against
#: ``sslrootcert`` (or the system's CAs) and its host name.
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class DatabaseSettings(BaseSettings):
    """How to reach PostgreSQL: ``DOCKET_DATABASE_URL`` (each service its own role), and
    TLS either in the URL (``?sslmode=verify-full&sslrootcert=/path/ca.pem``) or in
    ``DOCKET_DATABASE_SSLMODE`` / ``DOCKET_DATABASE_SSLROOTCERT``, which win over the URL."""

    model_config = SettingsConfigDict(
        env_prefix="DOCKET_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: SecretStr | None = None
    database_sslmode: SslMode | None = None
    database_sslrootcert: Path | None = None


class CommonSettings(DatabaseSettings):
    """``KAFKA_BOOTSTRAP_SERVERS`` and ``DOCKET_*`` variables shared by all services."""

    model_config = SettingsConfigDict(
        env_prefix="DOCKET_", extra="ignore", frozen=True, populate_by_name=True
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "DOCKET_KAFKA_BOOTSTRAP_SERVERS"),
    )
    #: How long a service keeps retrying an unreachable broker at start before it exits.
    kafka_connect_timeout_s: float = 30.0
    #: How a client reaches the broker (see ``shared/kafka_security.py``): SASL_SSL with
    #: SCRAM by default; SSL with a client certificate is mTLS; PLAINTEXT and
    #: SASL_PLAINTEXT are refused unless ``development_mode`` is on.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    #: This service's own Kafka principal and its password.
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    #: The CA the broker's certificate must chain to (none: the system's CAs).
    kafka_ssl_cafile: Path | None = None
    #: A client certificate and its key (PEM) for mutual TLS.
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    accounts_file: Path | None = None
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    #: Consumers in one group share partitions; two instances of a service use the
    #: same group id. Set per instance for static membership (fewer rebalances).
    instance_id: str | None = None
    #: How long a publish waits for others to share its batch. Services that publish
    #: one record at a time and wait for it (the consumers) gain nothing from waiting.
    kafka_linger_ms: int = 0
    #: The address the admin port (``/metrics``) binds to; only operators and
    #: Prometheus should reach it.
    admin_host: str = "127.0.0.1"
    #: Serve the OpenAPI documents (``/docs``, ``/redoc``, ``/openapi.json``): off, so a
    #: production port does not describe itself to whoever asks.
    openapi_docs: bool = False
    #: ``/readyz`` checks the broker and database at most once per this many seconds,
    #: however often it is called.
    readiness_interval_s: float = Field(default=2.0, ge=0.0)
    #: ``/healthz`` fails when a Kafka consumer's fetch task has died, or when it holds a
    #: partition with records to read and has not moved for this many seconds while the
    #: broker answers (``shared/consumer_watchdog.py``).
    consumer_stall_s: float = Field(default=120.0, gt=0.0)
    #: ``DOCKET_DEVELOPMENT_MODE=true`` accepts the placeholder secrets published in this
    #: repository (docker-compose.yml, deploy/k8s) and Kafka without TLS (PLAINTEXT,
    #: SASL_PLAINTEXT). Never set it in production.
    development_mode: bool = False


def listen_environment(service: str, port: int, admin_port: int) -> dict[str, str]:
    """The variables that put ``service``'s API on ``port`` and its metrics on
    ``admin_port`` (for launchers that start services as processes)."""
    prefix = f"DOCKET_{service.upper()}"
    return {f"{prefix}_PORT": str(port), f"{prefix}_ADMIN_PORT": str(admin_port)}


class ApiSettings(CommonSettings):
    """Services whose HTTP API needs an API key (intake, audit): ``shared.auth``."""

    #: A key found is trusted this long without asking the database: the longest a
    #: revoked key still works.
    key_cache_ttl_s: float = 5.0
    #: A key not found is answered 401 this long without asking the database again.
    unknown_key_cache_ttl_s: float = 2.0
    #: Calls a second each client may make on average (a token bucket per client id,
    #: in each instance); 0 turns the limit off.
    rate_limit_per_s: float = 20.0
    #: Calls a client may make at once before the average applies.
    rate_limit_burst: int = 40


class IntakeSettings(ApiSettings):
    port: int = Field(default=8080, validation_alias=AliasChoices("DOCKET_INTAKE_PORT"))
    #: ``/metrics`` (Prometheus), on ``admin_host``.
    admin_port: int = Field(default=9180, validation_alias=AliasChoices("DOCKET_INTAKE_ADMIN_PORT"))
    #: Where clients read a request's status (the audit service).
    audit_base_url: str = "http://127.0.0.1:8083"
    #: A publish not acknowledged by Kafka within this time is answered 503.
    publish_timeout_s: float = 5.0
    #: ``client_id:role[+national_security]:secret`` (role legal, reader or auditor;
    #: secret of at least 32 characters): stored (hashed) as key ``bootstrap-<client_id>``
    #: the first time intake starts, and never again: a revoked one stays revoked.
    bootstrap_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DOCKET_INTAKE_BOOTSTRAP_KEY")
    )
    #: Connections of intake's PostgreSQL pool (one is held per write while it publishes).
    database_pool_size: int = 10
    #: Concurrent requests publish together: 5 ms lets them share a batch.
    kafka_linger_ms: int = 5


class ClassifierSettings(CommonSettings):
    port: int = Field(default=8081, validation_alias=AliasChoices("DOCKET_CLASSIFIER_PORT"))
    #: ``/metrics`` (Prometheus), on ``admin_host``.
    admin_port: int = Field(
        default=9181, validation_alias=AliasChoices("DOCKET_CLASSIFIER_ADMIN_PORT")
    )
    #: Every classifier instance joins this group and they share the partitions.
    consumer_group: str = "docket-classifier"
    policy_dir: Path | None = None
    #: A candidate policy run beside the active one (``DOCKET_SHADOW_POLICY_DIR``): its
    #: verdicts go to ``docket.request.classified.shadow`` and are never acted on.
    shadow_policy_dir: Path | None = None
    #: The operator's own agency registry (``DOCKET_AGENCY_REGISTRY_FILE``), read after
    #: the shipped .gov registry: foreign and non-.gov agencies, aliases, free-mail services.
    agency_registry_file: Path | None = None


class NotifierSettings(CommonSettings):
    port: int = Field(default=8082, validation_alias=AliasChoices("DOCKET_NOTIFIER_PORT"))
    #: ``/metrics`` (Prometheus), on ``admin_host``.
    admin_port: int = Field(
        default=9182, validation_alias=AliasChoices("DOCKET_NOTIFIER_ADMIN_PORT")
    )
    #: Every notifier instance joins this group and they share the partitions.
    consumer_group: str = "docket-notifier"
    #: E-mail notices: an SMTP server (none configured: e-mail notices fail and stay
    #: pending until one is).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "notices@docket.local"
    #: In-app notices: the platform's notification endpoint and its Standard Webhooks
    #: signing secret (``whsec_`` + base64 of 24-64 random bytes).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    dispatch_poll_interval_s: float = 1.0
    #: The platform notices speak for (never "Docket": users have not heard of it).
    platform_name: str = "Example Platform"
    #: Where a user's reply to a notice goes (``Reply-To``); none: to ``smtp_sender``.
    notice_reply_to: str | None = None
    legal_help_url: str = "https://example.org/legal-help"
    legal_team_url: str = "https://example.org/legal-requests"
    #: The language of notices to accounts whose own is unknown or has no templates.
    notice_default_locale: str = "en"
    #: The operator's own notice templates, ``<dir>/<locale>/`` (see docs/notices.md).
    notice_templates_dir: Path | None = None


class AuditSettings(ApiSettings):
    port: int = Field(default=8083, validation_alias=AliasChoices("DOCKET_AUDIT_PORT"))
    #: ``/metrics`` (Prometheus), on ``admin_host``.
    admin_port: int = Field(default=9183, validation_alias=AliasChoices("DOCKET_AUDIT_ADMIN_PORT"))
    signing_key_file: Path | None = None
    #: The tree-head signing key itself (base64 raw Ed25519 or PEM), instead of the file.
    signing_key: SecretStr | None = None
    #: The log's name in its C2SP checkpoints and its signing key's name: unique to the
    #: deployment, e.g. ``docket.example.org/audit`` (printable, no spaces or '+').
    log_origin: str = Field(default="docket.local/audit", pattern=r"^[^\s+\u2014]+$")
    #: Sign a tree head this often when the log grew (one instance signs, under a
    #: PostgreSQL advisory lock); 0 turns the periodic signer off.
    tree_head_interval_s: float = 30.0
    #: Consumer groups are ``<prefix>-ingest`` and ``<prefix>-log``. A fresh prefix and
    #: an empty database replay the ledger from its start.
    consumer_group_prefix: str = "docket-audit"
    #: False: only write the ledger into the database (replay), copy no Docket topic.
    ingest: bool = True
    #: National-security process is published only in bands of this width (50 U.S.C.
    #: 1874: 1000, 500, 250 or, annually, 100).
    national_security_band: int = 250
    #: The deadline scheduler (``docs/deadlines.md``) looks for clocks coming due this
    #: often; 0 turns it off in this instance.
    deadline_scan_interval_s: float = Field(default=30.0, ge=0.0)
    #: ``DeadlineApproaching`` this long before each kind of deadline falls due.
    deadline_response_lead_s: float = Field(default=2 * 86400.0, ge=0.0)
    #: The renewal window of a non-disclosure order: counsel asks for (or expects) a
    #: renewal this long before it expires.
    deadline_gag_renewal_lead_s: float = Field(default=30 * 86400.0, ge=0.0)
    deadline_preservation_lead_s: float = Field(default=14 * 86400.0, ge=0.0)
    deadline_hold_review_lead_s: float = Field(default=86400.0, ge=0.0)
    #: Where deadline alerts go, as PagerDuty Events API v2 (``docs/deadlines.md``);
    #: none: no alerts, the events and metrics only.
    deadline_alert_url: str | None = None
    #: The PagerDuty integration (routing) key; required with ``deadline_alert_url``.
    deadline_alert_routing_key: SecretStr | None = None
    deadline_alert_timeout_s: float = Field(default=5.0, gt=0.0)

    @model_validator(mode="after")
    def _alerts_need_a_routing_key(self) -> AuditSettings:
        if self.deadline_alert_url and self.deadline_alert_routing_key is None:
            raise ValueError(
                "DOCKET_DEADLINE_ALERT_URL is set but DOCKET_DEADLINE_ALERT_ROUTING_KEY is not"
            )
        if self.deadline_alert_url and not (
            self.deadline_alert_url.startswith("https://") or self.development_mode
        ):
            raise ValueError(
                "DOCKET_DEADLINE_ALERT_URL must be https:// (plain http only with"
                " DOCKET_DEVELOPMENT_MODE=true)"
            )
        return self


class ConsoleAuthSettings(BaseSettings):
    """The console's sign-in (``services/console/auth.py``): OpenID Connect with the
    company's identity provider, roles mapped from a claim, a short signed and encrypted
    session cookie. Outside development mode an issuer, its client and a session secret
    are required (the console does not start without them); in development mode with no
    issuer the console offers a clearly labelled local sign-in instead."""

    model_config = SettingsConfigDict(
        env_prefix="DOCKET_", extra="ignore", frozen=True, populate_by_name=True
    )

    development_mode: bool = False
    #: The identity provider's issuer URL (its ``/.well-known/openid-configuration``).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: Scopes asked for, space-separated (``openid`` always among them).
    oidc_scopes: str = "openid profile"
    #: The claim that carries the user's roles or groups (a string or a list of them).
    oidc_role_claim: str = "docket_roles"
    #: Claim value -> Docket role (JSON); a user none of whose values is listed is
    #: refused. Several: legal wins over auditor over reader.
    oidc_role_map: dict[str, Role] = Field(
        default_factory=lambda: {
            "legal": Role.LEGAL,
            "reader": Role.READER,
            "auditor": Role.AUDITOR,
        }
    )
    #: The claim that grants national-security access: true, or a string or list of
    #: strings holding ``oidc_national_security_value``.
    oidc_national_security_claim: str = "docket_national_security"
    oidc_national_security_value: str = "national_security"
    #: The console's own address as the browser sees it (``https://docket.example.org``);
    #: none: taken from each request (only right without a rewriting proxy in front).
    console_public_url: str | None = None
    #: Signs and encrypts the session cookie (32+ characters); none in development mode:
    #: a random one per start (everyone is signed out on restart).
    console_session_secret: SecretStr | None = None
    #: A session lasts this long, then the user signs in again.
    console_session_ttl_s: int = Field(default=3600, ge=60, le=43200)
    oidc_timeout_s: float = Field(default=10.0, gt=0.0)

    @model_validator(mode="after")
    def _production_needs_an_identity_provider(self) -> ConsoleAuthSettings:
        if "openid" not in self.oidc_scopes.split():
            raise ValueError("DOCKET_OIDC_SCOPES must include openid")
        secret = self.console_session_secret
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError("DOCKET_CONSOLE_SESSION_SECRET needs at least 32 characters")
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "DOCKET_OIDC_ISSUER is set: DOCKET_OIDC_CLIENT_ID and DOCKET_OIDC_CLIENT_SECRET"
                " are required too"
            )
        if self.development_mode:
            return self
        if not self.oidc_issuer:
            raise ValueError(
                "the console needs DOCKET_OIDC_ISSUER (the company's identity provider); the"
                " local sign-in exists only with DOCKET_DEVELOPMENT_MODE=true"
            )
        if not self.oidc_issuer.startswith("https://"):
            raise ValueError("DOCKET_OIDC_ISSUER must be https:// outside development mode")
        if secret is None or is_placeholder(secret):
            raise ValueError(
                "the console needs DOCKET_CONSOLE_SESSION_SECRET: 32+ random characters, not a"
                " published placeholder"
            )
        return self


class MigrateSettings(DatabaseSettings):
    """``docket migrate``: connects as the owner role (``DOCKET_MIGRATION_DATABASE_URL``,
    else ``DOCKET_DATABASE_URL``) and sets each service role's password from
    ``DOCKET_<SERVICE>_DATABASE_PASSWORD`` (a role whose password is unset keeps the
    one it has, or none)."""

    migration_database_url: SecretStr | None = None
    #: Service roles are ``<prefix><service>``: ``docket_intake``, ``docket_audit``, ...
    database_role_prefix: str = Field(
        default=DEFAULT_ROLE_PREFIX, pattern=r"^[a-z_][a-z0-9_]{0,40}$"
    )
    intake_database_password: SecretStr | None = None
    classifier_database_password: SecretStr | None = None
    notifier_database_password: SecretStr | None = None
    audit_database_password: SecretStr | None = None

    def owner_url(self) -> str | None:
        url = self.migration_database_url or self.database_url
        return url.get_secret_value() if url else None

    def passwords(self) -> dict[str, SecretStr]:
        """Service -> the password its role is given."""
        found = {
            "intake": self.intake_database_password,
            "classifier": self.classifier_database_password,
            "notifier": self.notifier_database_password,
            "audit": self.audit_database_password,
        }
        return {service: password for service, password in found.items() if password}


class ConsoleSettings(ConsoleAuthSettings, CommonSettings):
    """The web console (``services/console``, ``docs/console.md``): its sign-in
    (:class:`ConsoleAuthSettings`) and what it needs to render pages."""

    port: int = Field(default=8084, validation_alias=AliasChoices("DOCKET_CONSOLE_PORT"))
    #: Where the console calls intake and audit (server to server).
    intake_url: str = "http://127.0.0.1:8080"
    audit_url: str = "http://127.0.0.1:8083"
    #: The console's own API key: created with ``docket keys create console --role legal
    #: --delegates`` (add ``--national-security`` if national-security counsel use it);
    #: it acts only for the signed-in person, never above its own role.
    console_api_key: SecretStr | None = None
    #: Audit's note verifier key (``<origin>+<key hash>+<base64 key>``, as
    #: ``GET /v1/audit/public-key`` shows it): the verify badge's trust anchor, pinned
    #: here so the page does not carry a key the server chose (``docs/checkpoints.md``).
    #: Required outside development mode; in development, read from audit when unset.
    console_verifier_key: str | None = Field(default=None, pattern=r"^[^+\s]+\+[0-9a-f]{8}\+\S+$")
    #: Jaeger's UI, for the trace links of a request's history; none: no links.
    jaeger_url: str | None = None
    #: The active and candidate policies the policy page compares, and the case files
    #: it runs ``docket policy test`` on.
    policy_dir: Path | None = None
    shadow_policy_dir: Path | None = None
    policy_cases_dir: Path | None = None
    #: Upstream calls give up after this long (the page says which service was slow).
    console_upstream_timeout_s: float = Field(default=10.0, gt=0.0)

    @model_validator(mode="after")
    def _production_pins_the_verifier_key(self) -> ConsoleSettings:
        if not self.development_mode and self.console_verifier_key is None:
            raise ValueError(
                "the console needs DOCKET_CONSOLE_VERIFIER_KEY (audit's note verifier key,"
                " docs/checkpoints.md); it is read from audit only in development mode"
            )
        return self
