"""Configuration of the delivery channels. The composition root fills these from
``NotifierSettings`` (``DOCKET_SMTP_*`` and ``DOCKET_WEBHOOK_*``)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class SmtpConfig(BaseModel):
    """An SMTP submission server. ``DOCKET_SMTP_HOST``, ``DOCKET_SMTP_PORT``,
    ``DOCKET_SMTP_STARTTLS``, ``DOCKET_SMTP_USERNAME``, ``DOCKET_SMTP_PASSWORD``,
    ``DOCKET_SMTP_SENDER``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    #: Upgrade the connection with STARTTLS (certificate verified) before anything else.
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    #: The ``From`` address and envelope sender.
    sender: str = Field(default="notices@docket.local", min_length=3)
    #: Per socket operation. Keep attempts x timeout well below the dispatcher's lease.
    timeout_s: float = Field(default=10.0, gt=0)
    #: Right-hand side of ``Message-ID: <notice_id@domain>``.
    message_id_domain: str = Field(default="docket.local", pattern=r"^[A-Za-z0-9.-]+$")
    #: Name given in EHLO; ``None`` uses the machine's fully qualified name.
    local_hostname: str | None = None

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password are set together or not at all")
        return self


class WebhookConfig(BaseModel):
    """The platform's in-app notification endpoint. ``DOCKET_WEBHOOK_URL``,
    ``DOCKET_WEBHOOK_SECRET``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    #: Shared HMAC-SHA256 key; the receiver checks ``X-Docket-Signature`` with it.
    secret: SecretStr
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value
