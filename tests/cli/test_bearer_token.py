"""A CalDAV service behind a gateway that wants a bearer token (Radicale behind a
loopback proxy that refuses any request without it): with the right token a room
synchronizes and the room's answer goes back; with a wrong one the synchronization fails
saying which connection was refused. The token is read from where the configuration
points, and appears in no command output, log line or database row."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.providers.caldav import CalDAVProvider
from tests.cli.test_secrets import database_dump
from tests.providers.gateway import Gateway
from tests.sync.calendars import ics, vevent

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(120)]
TOKEN = "planted-bearer-7f3a9c2e41"
WRONG = "wrong-bearer-0b9d77e5c3"


def config(database_url: str, gateway_url: str, calendar: str, token: str) -> str:
    return f"""
[database]
url = "{database_url}"

[connections.dav]
kind = "caldav"
url = "{gateway_url}"
token_file = "{token}"

[[items]]
name = "Room A"
time_zone = "Europe/Berlin"
binding = {{ connection = "dav", calendar = "{calendar}", room_address = "room-a@example.com" }}
"""


@pytest.fixture
def calsync(tmp_path, database_url, radicale, room_calendar, caplog):
    """`calsync(token, *args) -> output`: the command line against Room A behind the
    gateway, the configuration's token file holding `token`; `.outputs` collects all."""
    with CalDAVProvider(radicale.url) as organizer:
        meeting = vevent("m1", "20261203T100000", "20261203T110000", "Plan")
        organizer.create(room_calendar, "m1", ics(meeting))
    caplog.set_level(logging.DEBUG)
    token_file = tmp_path / "dav-token"
    path = tmp_path / "calsync.toml"
    runner, outputs = CliRunner(), []
    with Gateway(radicale.url, token=TOKEN) as gateway:
        path.write_text(config(database_url, gateway.url, room_calendar, str(token_file)))

        def run(token: str, *args: str) -> str:
            token_file.write_text(token + "\n")
            result = runner.invoke(app, ["--config", str(path), *args])
            outputs.append(result.output)
            return result.output

        run.outputs, run.gateway = outputs, gateway
        run(TOKEN, "init")
        yield run


def _nowhere(secret: str, calsync, database_url: str, caplog) -> None:
    looked_at = {
        "command output": "\n".join(calsync.outputs),
        "log": caplog.text,
        "database": database_dump(database_url),
    }
    for where, text in looked_at.items():
        assert secret not in text, f"the bearer token is in the {where}"


def test_with_the_right_token_a_room_synchronizes_and_is_answered(calsync, database_url, caplog):
    assert "configuration is valid" in calsync(TOKEN, "config", "check")
    [synced] = json.loads(calsync(TOKEN, "sync", "--json"))
    assert synced["outcome"] == "succeeded", synced
    calsync(TOKEN, "worker", "--once")  # the room accepts m1: a PUT through the gateway
    [reservation] = json.loads(calsync(TOKEN, "reservations", "list", "--json"))
    assert (reservation["uid"], reservation["status"]) == ("m1", "confirmed")
    assert ("PUT", "m1.ics") in {(m, p.rsplit("/", 1)[-1]) for m, p, _ in calsync.gateway.seen}
    assert calsync.gateway.refused() == 0
    tested = json.loads(calsync(TOKEN, "connections", "test", "dav", "--json"))
    assert tested["ok"] is True
    json.loads(calsync(TOKEN, "connections", "list", "--json"))
    for event in json.loads(calsync(TOKEN, "events", "list", "--json", "--limit", "100")):
        calsync(TOKEN, "events", "show", str(event["id"]), "--json")
    _nowhere(TOKEN, calsync, database_url, caplog)


def test_a_wrong_token_fails_naming_the_connection_not_the_token(calsync, database_url, caplog):
    [synced] = json.loads(calsync(WRONG, "sync", "--json"))
    assert synced["outcome"] == "failed"
    assert "connection 'dav'" in synced["error"]
    assert "401" in synced["error"]
    tested = json.loads(calsync(WRONG, "connections", "test", "dav", "--json"))
    assert tested["ok"] is False
    assert "401" in tested["calendars"][0]["detail"]
    assert calsync.gateway.refused() >= 2
    _nowhere(WRONG, calsync, database_url, caplog)
    _nowhere(TOKEN, calsync, database_url, caplog)


def test_config_check_says_where_a_token_is_missing(calsync, tmp_path):
    (tmp_path / "dav-token").unlink()
    result = CliRunner().invoke(
        app, ["--config", str(tmp_path / "calsync.toml"), "config", "check"]
    )
    assert result.exit_code != 0
    assert "connection 'dav': token_file" in " ".join(result.output.split())
    assert "dav-token: cannot be read" in " ".join(result.output.split())


@pytest.mark.parametrize("command", [["worker", "--once"], ["worker"], ["serve", "--port", "0"]])
def test_a_worker_without_its_token_stops_at_start_saying_where(calsync, tmp_path, command):
    """Not at its first poll, into a log line: a service manager sees it fail to start."""
    (tmp_path / "dav-token").unlink()
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "calsync.toml"), *command])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "connection 'dav': token_file" in said
    assert "dav-token: cannot be read" in said


def test_a_refused_outbound_write_names_the_connection(calsync, database_url, caplog, monkeypatch):
    """As a refused read does: the admin is told which connection's credentials to fix."""
    gateway, answer = calsync.gateway, calsync.gateway.answer

    def refusing_writes(method, path, headers, body):
        if method == "PUT":  # the token expired between the read and the room's answer
            return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"}, text="expired")
        return answer(method, path, headers, body)

    monkeypatch.setattr(gateway, "answer", refusing_writes)
    calsync(TOKEN, "sync", "--json")
    calsync(TOKEN, "worker", "--once")
    events = [
        json.loads(calsync(TOKEN, "events", "show", str(event["id"]), "--json"))
        for event in json.loads(calsync(TOKEN, "events", "list", "--json", "--limit", "100"))
    ]
    [refused] = [e for e in events if e["action"] == "respond"]
    assert "401" in (refused["error"] or ""), refused
    assert "connection 'dav'" in refused["error"], refused["error"]
    _nowhere(TOKEN, calsync, database_url, caplog)
