"""The configuration's mail server (part of `Settings`): how approvers are told.

```toml
[smtp]
host = "mail.example.com"
port = 587                        # default: 465 with ssl, 587 with starttls, else 25
starttls = true                   # or ssl = true (TLS from the first byte); not both
username = "calsync"
password_env = "CALSYNC_SMTP_PASSWORD"   # or password_file = "/etc/calsync/smtp-password"
from_address = "calsync@example.com"
timeout = 30
digest_minutes = 0                # N: at most one digest per approver every N minutes
public_url = "https://calsync.example.com"  # named in the mail as where to decide
ca_file = "/etc/calsync/mail-ca.pem"  # trust this CA for the server, not the system's
```

The password is given by reference only, like a connection's secret, and only sent over
TLS (in the clear only to a loopback host). `SmtpSettings.password()` reads it; its
errors say where it was looked for, never what is there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from calsync.config_policies import Address
from calsync.errors import ConfigError

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password_env: str = ""
    password_file: str = ""
    from_address: Address
    timeout: Annotated[float, Field(gt=0)] = 30.0
    digest_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 0
    public_url: str = ""
    #: The certificates (PEM) trusted for the server's TLS certificate instead of the
    #: system's: a relay with a certificate of a private CA.
    ca_file: str = ""

    @model_validator(mode="after")
    def _one_way_in(self) -> SmtpSettings:
        if self.starttls and self.ssl:
            raise ValueError(
                "give starttls (upgrade after connecting) or ssl (TLS from the "
                "first byte), not both"
            )
        if self.ca_file and not self.encrypted:
            raise ValueError("ca_file is for TLS: set starttls or ssl")
        if self.password_env and self.password_file:
            raise ValueError(
                "give the password by at most one of password_env (an environment "
                "variable) or password_file (a path)"
            )
        has_password = bool(self.password_env or self.password_file)
        if has_password != bool(self.username):
            raise ValueError("a login needs both username and password_env or password_file")
        if has_password and not self.encrypted and self.host not in _LOOPBACK:
            raise ValueError(
                "a password is sent only over TLS: set starttls or ssl (in the "
                "clear only to a loopback host)"
            )
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            parts = urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
            held = parts.username is not None or parts.password is not None
        except ValueError:
            usable, held = False, False
        if held:
            raise ValueError("the public_url must not hold a user or password")
        if not usable:
            raise ValueError("the public_url must be an http or https URL with a host")
        return value

    @property
    def encrypted(self) -> bool:
        return self.starttls or self.ssl

    @property
    def port_number(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25

    @property
    def digest(self) -> bool:
        """Requests are told in digests (by the scheduler), not one mail each at once."""
        return self.digest_minutes > 0

    def password(self) -> str | None:
        """The password, read where the settings say (a file's last line end dropped);
        ConfigError naming where it was looked for, never what is there."""
        if self.password_file:
            try:
                text = Path(self.password_file).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as error:
                why = getattr(error, "strerror", None) or "not UTF-8 text"
                raise ConfigError(
                    f"smtp password_file {self.password_file}: cannot be read ({why})"
                ) from None
            where = f"smtp password_file {self.password_file}"
            text = text.rstrip("\r\n")
        elif self.password_env:
            where = f"smtp password_env {self.password_env}"
            text = _environment(self.password_env)
        else:
            return None
        if not text:
            raise ConfigError(f"{where}: holds no password (it is empty)")
        return text

    def check_secrets(self) -> None:
        """ConfigError if the password or the CA file cannot be read."""
        self.password()
        self.trusted_certificates()

    def trusted_certificates(self) -> str | None:
        """The PEM text of `ca_file`, None without one; ConfigError if it cannot be read."""
        if not self.ca_file:
            return None
        try:
            text = Path(self.ca_file).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            why = getattr(error, "strerror", None) or "not PEM text"
            raise ConfigError(f"smtp ca_file {self.ca_file}: cannot be read ({why})") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ConfigError(f"smtp ca_file {self.ca_file}: holds no PEM certificate")
        return text


def _environment(variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(
            f"environment variable {variable} (the mail server's password) is not set"
        )
    return value
