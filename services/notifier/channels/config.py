"""Configuration of the delivery channels. The composition root fills these from
``NotifierSettings`` (``DOCKET_SMTP_*`` and ``DOCKET_WEBHOOK_*``)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_DOMAIN = r"^[A-Za-z0-9.-]+$"
SECRET_PREFIX: Final = "whsec_"
#: The Standard Webhooks specification asks for a key of 24 to 64 bytes.
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64


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
    #: Right-hand side of ``Message-ID: <notice_id@domain>``; none: the sender's domain.
    message_id_domain: str | None = Field(default=None, pattern=_DOMAIN)
    #: Name given in EHLO; ``None`` uses the machine's fully qualified name.
    local_hostname: str | None = None

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password are set together or not at all")
        if self.message_id_domain is None and not re.match(_DOMAIN, self.sender_domain):
            raise ValueError("the sender's domain cannot be a Message-ID domain; set one")
        return self

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


class WebhookConfig(BaseModel):
    """The platform's in-app notification endpoint. ``DOCKET_WEBHOOK_URL``,
    ``DOCKET_WEBHOOK_SECRET``."""

    #: ``hide_input_in_errors``: a refused secret is never echoed into a log.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str
    #: The Standard Webhooks signing secret, ``whsec_`` and the base64 of 24 to 64
    #: random bytes; the receiver checks ``webhook-signature`` with the same value.
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
    def _standard_webhooks_secret(cls, value: SecretStr) -> SecretStr:
        # The message never quotes the value: it is a secret.
        secret = value.get_secret_value()
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(f"must start with {SECRET_PREFIX!r} (a Standard Webhooks secret)")
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            raise ValueError(f"must be {SECRET_PREFIX!r} followed by base64") from None
        if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
            raise ValueError(
                f"the key must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, got {len(key)}"
            )
        return value
