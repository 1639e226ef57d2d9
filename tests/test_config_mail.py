"""The mail server in the configuration (`[smtp]`) and where roles are written to
(`[approvals] role_addresses`): what they make, what `calsync config check` says, and the
messages naming what is wrong, never the password."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import load, parse
from calsync.errors import ConfigError

SMTP = """
[smtp]
host = "mail.example.com"
starttls = true
username = "calsync"
password_env = "CALSYNC_TEST_SMTP_PASSWORD"
from_address = "Calsync@Example.com"
digest_minutes = 30
public_url = "https://calsync.example.com"
"""
APPROVALS = """
[groups.facilities]
members = ["anna@example.com"]

[approvals]
role_addresses = { approver = ["Desk@Example.com", "office@example.com"] }

[[approval_rules]]
name = "admins decide"
performer = { role = "admin" }
"""
PASSWORD = "planted-smtp-Pa55-7d1e"


def check(tmp_path: Path, text: str):
    path = tmp_path / "calsync.toml"
    path.write_text(text)
    return CliRunner().invoke(app, ["--config", str(path), "config", "check"])


def refused(**smtp) -> str:
    section = {"host": "mail.example.com", "from_address": "calsync@example.com", **smtp}
    with pytest.raises(ConfigError) as error:
        parse({"smtp": section})
    return str(error.value)


def test_smtp_settings_and_role_addresses_are_read(tmp_path, monkeypatch):
    path = tmp_path / "calsync.toml"
    path.write_text(SMTP + APPROVALS)
    settings = load(path)
    assert settings.smtp is not None
    assert settings.smtp.port_number == 587
    assert settings.smtp.from_address == "calsync@example.com"
    assert settings.smtp.digest
    book = settings.address_book()
    assert book.roles == {"approver": frozenset({"desk@example.com", "office@example.com"})}
    assert book.groups == {"facilities": frozenset({"anna@example.com"})}
    monkeypatch.setenv("CALSYNC_TEST_SMTP_PASSWORD", PASSWORD)
    assert settings.smtp.password() == PASSWORD


def test_without_an_smtp_section_nothing_is_mailed():
    assert parse({}).smtp is None


@pytest.mark.parametrize(
    ("smtp", "said"),
    [
        ({"starttls": True, "ssl": True}, "not both"),
        ({"username": "u"}, "needs both username and password_env or password_file"),
        ({"password_env": "X"}, "needs both username and password_env or password_file"),
        (
            {"username": "u", "password_env": "X", "password_file": "/f", "ssl": True},
            "at most one of password_env",
        ),
        ({"username": "u", "password_env": "X"}, "a password is sent only over TLS"),
        ({"port": 0}, "smtp.port"),
        ({"timeout": 0}, "smtp.timeout"),
        ({"digest_minutes": -1}, "smtp.digest_minutes"),
        ({"from_address": "nobody"}, "'nobody' is not an email address"),
        ({"public_url": "ftp://calsync.example.com"}, "http or https URL"),
        ({"public_url": "https://u:p@calsync.example.com"}, "must not hold a user or password"),
        ({"passwd": "inline"}, "smtp.passwd"),
        ({"ca_file": "/etc/ca.pem"}, "ca_file is for TLS"),
    ],
)
def test_smtp_settings_that_cannot_work_are_refused_with_the_key(smtp, said):
    assert said in refused(**smtp)


def test_a_password_in_the_clear_is_allowed_to_a_loopback_host_only():
    settings = parse(
        {
            "smtp": {
                "host": "127.0.0.1",
                "username": "u",
                "password_env": "X",
                "from_address": "calsync@example.com",
            }
        }
    )
    assert settings.smtp is not None
    assert settings.smtp.port_number == 25


def test_a_role_address_must_be_an_address_and_the_role_known():
    with pytest.raises(ConfigError, match="is not an email address"):
        parse({"approvals": {"role_addresses": {"approver": ["desk"]}}})
    with pytest.raises(ConfigError, match=r"approvals\.role_addresses"):
        parse({"approvals": {"role_addresses": {"janitor": ["j@example.com"]}}})


def test_config_check_says_the_mail_server_and_the_roles_mailed_to_nobody(tmp_path, monkeypatch):
    monkeypatch.setenv("CALSYNC_TEST_SMTP_PASSWORD", PASSWORD)
    result = check(tmp_path, SMTP + APPROVALS)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the terminal's width wraps lines
    assert "smtp: mail.example.com:587 (starttls), from calsync@example.com" in said
    assert "a digest every 30 minutes" in said
    assert "role admin decides approvals but has no address" in said
    assert "role approver decides" not in said
    assert PASSWORD not in result.output


def test_config_check_names_a_missing_password_and_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.delenv("CALSYNC_TEST_SMTP_PASSWORD", raising=False)
    result = check(tmp_path, SMTP)
    assert result.exit_code == 1
    assert "environment variable CALSYNC_TEST_SMTP_PASSWORD" in result.output


def test_a_password_file_is_read_and_its_errors_never_repeat_it(tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    text = SMTP.replace(
        'password_env = "CALSYNC_TEST_SMTP_PASSWORD"', f'password_file = "{secret}"'
    )
    path = tmp_path / "calsync.toml"
    path.write_text(text)
    settings = load(path)
    assert settings.smtp is not None
    assert settings.smtp.password() == PASSWORD
    secret.write_text("")
    with pytest.raises(ConfigError, match="holds no password") as error:
        settings.smtp.password()
    secret.unlink()
    with pytest.raises(ConfigError, match="cannot be read") as error:
        settings.smtp.password()
    assert PASSWORD not in str(error.value)


def test_a_ca_file_that_cannot_be_read_or_holds_no_certificate_is_named(tmp_path):
    ca_file = tmp_path / "mail-ca.pem"
    path = tmp_path / "calsync.toml"
    path.write_text(SMTP.replace("starttls = true", f'starttls = true\nca_file = "{ca_file}"'))
    settings = load(path).smtp
    assert settings is not None
    with pytest.raises(ConfigError, match=r"mail-ca\.pem: cannot be read"):
        settings.trusted_certificates()
    ca_file.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"mail-ca\.pem: holds no PEM certificate"):
        settings.trusted_certificates()
