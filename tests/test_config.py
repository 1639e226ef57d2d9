"""The configuration file: validated with messages that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from calsync.config import load
from calsync.errors import ConfigError, ConfigNotFound

GOOD = """
[database]
url = "sqlite:///calsync.db"

[connections.dav]
kind = "caldav"
url = "https://dav.example.com"
username = "calsync"
password_env = "CALSYNC_DAV_PASSWORD"

[[items]]
name = "Room A"
time_zone = "Europe/Berlin"
policy = { max_duration_hours = 8, booking_window_days = 180 }

[items.binding]
connection = "dav"
calendar = "/rooms/a/"
room_address = "Room-A@example.com"
dry_run = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calsync.toml"
    path.write_text(text)
    return path


def test_a_valid_file_declares_items_with_bindings_and_policies(tmp_path):
    settings = load(write(tmp_path, GOOD))
    [item] = settings.workplace_items()
    assert item.binding is not None
    assert item.binding.dry_run
    assert item.binding.room_address == "room-a@example.com"
    assert item.policy.max_duration is not None
    assert item.policy.max_duration.total_seconds() == 8 * 3600


def test_the_database_url_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CALSYNC_DATABASE_URL", "postgresql://db.example.com/calsync")
    assert load(write(tmp_path, GOOD)).database.url == "postgresql://db.example.com/calsync"


def test_the_config_path_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CALSYNC_CONFIG", str(write(tmp_path, GOOD)))
    assert load().items[0].name == "Room A"


def test_a_secret_is_read_from_its_environment_variable_only(tmp_path, monkeypatch):
    connection = load(write(tmp_path, GOOD)).connections["dav"]
    with pytest.raises(ConfigError, match="CALSYNC_DAV_PASSWORD"):
        connection.secret()
    monkeypatch.setenv("CALSYNC_DAV_PASSWORD", "s3cret")
    assert connection.secret() == "s3cret"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (GOOD.replace('"Europe/Berlin"', '"Mars/Olympus"'), "items.0.time_zone"),
        (GOOD.replace('connection = "dav"', 'connection = "exchange"'), "unknown connection"),
        (GOOD.replace('kind = "caldav"', 'kind = "lotus"'), "connections.dav: Input tag 'lotus'"),
        (GOOD + '\n[[items]]\nname = "Room A"\n', "repeated: Room A"),
        (GOOD.replace("[database]", "[database]\npassword = 'inline'"), "database.password"),
        ("[[items]\nname=", "not valid TOML"),
    ],
)
def test_a_broken_file_says_which_key_is_wrong(tmp_path, broken, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load(write(tmp_path, broken))


def test_a_missing_named_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.toml")


def test_no_file_in_the_default_place_is_an_error_saying_where_calsync_looked(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALSYNC_CONFIG", raising=False)
    with pytest.raises(ConfigNotFound, match=r"looked for .*calsync\.toml") as missing:
        load()
    assert missing.value.default
    assert missing.value.path.absolute() == tmp_path / "calsync.toml"


def test_retention_keeps_30_and_90_days_unless_configured(tmp_path):
    retention = load(write(tmp_path, GOOD)).retention
    assert (retention.processed_days, retention.error_days) == (30, 90)
    assert (retention.synchronization_days, retention.batch) == (90, 5000)
    configured = load(write(tmp_path, GOOD + "\n[retention]\nprocessed_days = 0\n")).retention
    assert configured.processed_days == 0  # kept forever


def test_a_negative_retention_says_which_key_is_wrong(tmp_path):
    with pytest.raises(ConfigError, match=r"retention\.error_days"):
        load(write(tmp_path, GOOD + "\n[retention]\nerror_days = -1\n"))


def test_a_google_connection_takes_its_key_by_reference_only(tmp_path, monkeypatch):
    from calsync.config import parse

    def google(**key: str):
        return {
            "connections": {
                "gws": {"kind": "google", "subject": "admin@example.com", **key},
            }
        }

    with pytest.raises(ConfigError, match="exactly one of service_account_file"):
        parse(google())
    settings = parse(google(service_account_env="CALSYNC_TEST_KEY"))
    monkeypatch.delenv("CALSYNC_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"CALSYNC_TEST_KEY \(a service account key\) is not set"):
        settings.connection("gws").check_secrets()
    monkeypatch.setenv("CALSYNC_TEST_KEY", '{"client_email": "x@example.com"}')
    with pytest.raises(ConfigError, match="no private_key, token_uri"):
        settings.connection("gws").check_secrets()
    key = tmp_path / "key.json"
    key.write_text('{"client_email": "x", "private_key": "k", "token_uri": "https://t/"}')
    settings = parse(google(service_account_file=str(key)))
    assert settings.connection("gws").service_account_info()["client_email"] == "x"


def _caldav(**auth: str):
    from calsync.config import parse

    connection = {"kind": "caldav", "url": "https://dav.example.com", **auth}
    return parse({"connections": {"dav": connection}}).connection("dav")


def test_a_caldav_bearer_token_is_taken_by_reference_only(tmp_path, monkeypatch):
    monkeypatch.delenv("CALSYNC_TEST_TOKEN", raising=False)
    by_env = _caldav(token_env="CALSYNC_TEST_TOKEN")
    with pytest.raises(ConfigError, match=r"CALSYNC_TEST_TOKEN \(a bearer token\) is not set"):
        by_env.check_secrets()
    monkeypatch.setenv("CALSYNC_TEST_TOKEN", "eyJ0eXAi.payload.sig\n")
    assert by_env.bearer_token() == "eyJ0eXAi.payload.sig"
    token = tmp_path / "token"
    token.write_text("opaque-token-1234\n")
    assert _caldav(token_file=str(token)).bearer_token() == "opaque-token-1234"
    assert _caldav(username="u", password_env="P").bearer_token() is None
    with pytest.raises(ConfigError, match=r"token_file .*missing: cannot be read"):
        _caldav(token_file=str(tmp_path / "missing")).check_secrets()


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"token_env": "A", "token_file": "/b"}, "at most one of token_env"),
        ({"token_env": "A", "username": "u", "password_env": "P"}, "not both"),
        ({"token_file": "/b", "password_env": "P"}, "not both"),
    ],
)
def test_a_caldav_connection_has_one_way_in(auth, message):
    with pytest.raises(ConfigError, match=message):
        _caldav(**auth)


@pytest.mark.parametrize("held", ["", "  \n", "two words", "line\nbreak"])
def test_a_token_file_without_one_token_is_refused_without_showing_it(tmp_path, held):
    token = tmp_path / "token"
    token.write_text(held)
    with pytest.raises(ConfigError, match=r"token_file .*token") as refused:
        _caldav(token_file=str(token)).check_secrets()
    assert "words" not in str(refused.value)
    assert "break" not in str(refused.value)


def test_a_token_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Notepad and PowerShell's Out-File write UTF-8 with a byte order mark."""
    token = tmp_path / "token"
    token.write_bytes(b"\xef\xbb\xbfplanted-bearer-5be1c0ffee\r\n")
    assert _caldav(token_file=str(token)).bearer_token() == "planted-bearer-5be1c0ffee"


def test_a_bearer_token_too_short_to_redact_is_refused(tmp_path):
    token = tmp_path / "token"
    token.write_text("abc1234\n")
    with pytest.raises(ConfigError, match=r"token_file .*under 8 characters") as refused:
        _caldav(token_file=str(token)).check_secrets()
    assert "abc1234" not in str(refused.value)


def test_a_missing_secret_is_reported_naming_its_connection(tmp_path, monkeypatch):
    from calsync.config import parse

    monkeypatch.delenv("CALSYNC_TEST_TOKEN", raising=False)
    settings = parse(
        {
            "connections": {
                "dav": {
                    "kind": "caldav",
                    "url": "https://a.example",
                    "token_env": "CALSYNC_TEST_TOKEN",
                },
                "ok": {"kind": "caldav", "url": "https://b.example"},
                "file": {
                    "kind": "caldav",
                    "url": "https://c.example",
                    "token_file": str(tmp_path / "missing"),
                },
            }
        }
    )
    with pytest.raises(ConfigError) as missing:
        settings.check_secrets()
    message = str(missing.value)
    assert "connection 'dav': environment variable CALSYNC_TEST_TOKEN" in message
    assert "connection 'file': token_file" in message
    assert "'ok'" not in message
