"""Connection URLs: refused at load and by `calsync config check` when they hold a user or
password, with a message that names the connection and never repeats the password."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import load
from calsync.errors import ConfigError

PASSWORD = "s3cret-in-url-77"


def config_with(tmp_path, url: str):
    path = tmp_path / "calsync.toml"
    path.write_text(f'[connections.office]\nkind = "caldav"\nurl = "{url}"\n')
    return path


@pytest.mark.parametrize(
    "url",
    [
        f"https://calsync:{PASSWORD}@dav.example.com/",
        f"https://:{PASSWORD}@dav.example.com/",
        "https://calsync@dav.example.com/",
        f"http://calsync:{PASSWORD}@[::1]:5232/",
    ],
)
def test_a_connection_url_holding_a_user_or_password_is_refused_at_load(tmp_path, url):
    with pytest.raises(ConfigError) as refused:
        load(config_with(tmp_path, url))
    message = str(refused.value)
    assert "connection 'office'" in message
    assert "`username`" in message
    assert "`password_env`" in message
    assert PASSWORD not in message
    assert PASSWORD not in repr(refused.value.__cause__) + repr(refused.value.__context__)


def test_config_check_refuses_a_url_with_a_password_and_does_not_print_it(tmp_path):
    path = config_with(tmp_path, f"https://calsync:{PASSWORD}@dav.example.com/")

    result = CliRunner().invoke(app, ["--config", str(path), "config", "check"])

    assert result.exit_code != 0
    assert "connection 'office'" in result.output
    assert "password_env" in result.output
    assert PASSWORD not in result.output


@pytest.mark.parametrize("url", ["dav.example.com/rooms", "ftp://dav.example.com/", "https://"])
def test_a_connection_url_that_is_not_http_with_a_host_is_refused_at_load(tmp_path, url):
    with pytest.raises(ConfigError, match="must be an http or https URL with a host"):
        load(config_with(tmp_path, url))


def test_a_plain_https_url_is_accepted(tmp_path):
    settings = load(config_with(tmp_path, "https://dav.example.com:8443/dav/"))
    assert settings.connections["office"].url == "https://dav.example.com:8443/dav/"
