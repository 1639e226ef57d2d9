"""`calsync connections list|test NAME`: what an admin runs first when a room stops
syncing. It proves the credentials and each bound calendar, needs no database, and never
shows a secret."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from calsync.cli import app

pytestmark = pytest.mark.radicale


def _config(tmp_path, radicale_url: str, calendars: dict[str, str]) -> str:
    items = "\n".join(
        f"""
[[items]]
name = "{name}"
binding = {{ connection = "dav", calendar = "{calendar}", room_address = "r@example.com" }}
"""
        for name, calendar in calendars.items()
    )
    path = tmp_path / "calsync.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "never-made.db"}"

[connections.dav]
kind = "caldav"
url = "{radicale_url}"
username = "admin"
password_env = "CALSYNC_TEST_DAV_PASSWORD"
{items}
"""
    )
    return str(path)


def test_a_reachable_calendar_and_a_missing_one_are_told_apart(
    tmp_path, radicale, room_calendar, monkeypatch
):
    monkeypatch.setenv("CALSYNC_TEST_DAV_PASSWORD", "s3cret-planted")
    config = _config(
        tmp_path, radicale.url, {"Room A": room_calendar, "Room B": "/rooms/no-such-room/"}
    )
    result = CliRunner().invoke(app, ["--config", config, "connections", "test", "dav", "--json"])
    assert result.exit_code == 7, result.output
    report = json.loads(result.output)
    by_item = {c["item"]: c for c in report["calendars"]}
    assert by_item["Room A"]["ok"] is True
    assert by_item["Room A"]["delta_keys"] is True  # Radicale does sync-collection
    assert by_item["Room B"]["ok"] is False
    assert "404" in by_item["Room B"]["detail"] or "not" in by_item["Room B"]["detail"]
    assert "s3cret-planted" not in result.output
    assert not (tmp_path / "never-made.db").exists(), "a connection test made a database"


def test_all_calendars_reachable_exits_0_and_list_shows_no_secret(
    tmp_path, radicale, room_calendar, monkeypatch
):
    monkeypatch.setenv("CALSYNC_TEST_DAV_PASSWORD", "s3cret-planted")
    config = _config(tmp_path, radicale.url, {"Room A": room_calendar})
    tested = CliRunner().invoke(app, ["--config", config, "connections", "test", "dav"])
    assert tested.exit_code == 0, tested.output
    assert "Room A" in tested.output
    listed = CliRunner().invoke(app, ["--config", config, "connections", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == [
        {"name": "dav", "kind": "caldav", "url": radicale.url, "items": ["Room A"]}
    ]
    assert "s3cret-planted" not in tested.output + listed.output


def test_a_missing_password_variable_is_said_before_any_request(tmp_path, radicale, monkeypatch):
    monkeypatch.delenv("CALSYNC_TEST_DAV_PASSWORD", raising=False)
    config = _config(tmp_path, radicale.url, {"Room A": "/rooms/a/"})
    result = CliRunner().invoke(app, ["--config", config, "connections", "test", "dav"])
    assert result.exit_code == 1
    assert "CALSYNC_TEST_DAV_PASSWORD" in result.output
