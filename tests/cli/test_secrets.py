"""No credential leaves: a password planted in a connection's environment variable appears in
no JSON output of the command line, no export, no log line and no row of the database,
after synchronizations that succeed (Radicale, and a server that echoes the request's
Authorization header in its answers) and ones that fail (401 and 500 pages echoing it)."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from sqlalchemy import MetaData, create_engine, select
from typer.testing import CliRunner

from calsync.cli import app
from calsync.providers.caldav import CalDAVProvider
from tests.providers import hostile_server as hostile
from tests.providers.hostile_server import Answer, HostileServer, Seen
from tests.sync.calendars import ics, vevent

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(120)]
USER = "calsync"
PASSWORD = "planted-Pa55word-9c41"
SECRETS = {
    "password": PASSWORD,
    "user:password": f"{USER}:{PASSWORD}",
    "Basic form": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
}


def echoing(seen: Seen, server: HostileServer) -> Answer:
    """A 401 for room B and a 500 for room C; room D is read, and the room's answer to it
    is taken with a page that shows what the client sent, as debugging servers do."""
    sent = seen.headers.get("Authorization", "")
    decoded = base64.b64decode(sent.removeprefix("Basic ")).decode() if sent else ""
    page = f"<html><body>Authorization: {sent} ({decoded})</body></html>".encode()
    if "/rooms/d/" not in seen.path:
        code = 401 if "/rooms/b/" in seen.path else 500
        return Answer(code, [page], {"Content-Type": "text/html"})
    if seen.method == "PUT":
        return Answer(201, [page], {"ETag": '"2"'})
    return hostile.calendar(["/rooms/d/m1.ics"])(seen, server)


def config(database_url: str, radicale_url: str, hostile_url: str, calendar: str) -> str:
    connection = f'username = "{USER}"\npassword_env = "CALSYNC_PLANTED_PASSWORD"'
    return f"""
[database]
url = "{database_url}"

[connections.good]
kind = "caldav"
url = "{radicale_url}"
{connection}

[connections.bad]
kind = "caldav"
url = "{hostile_url}"
{connection}

[[items]]
name = "Room A"
binding = {{ connection = "good", calendar = "{calendar}", room_address = "room-a@example.com" }}

[[items]]
name = "Room B"
binding = {{ connection = "bad", calendar = "/rooms/b/", room_address = "room-b@example.com" }}

[[items]]
name = "Room C"
binding = {{ connection = "bad", calendar = "/rooms/c/", room_address = "room-c@example.com" }}

[[items]]
name = "Room D"
binding = {{ connection = "bad", calendar = "/rooms/d/", room_address = "room-a@example.com" }}
"""


def database_dump(database_url: str) -> str:
    engine = create_engine(database_url)
    tables = MetaData()
    tables.reflect(engine)
    rows = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            rows += [f"{table.name}: {tuple(row)}" for row in connection.execute(select(table))]
    engine.dispose()
    return "\n".join(rows)


def test_a_planted_password_appears_in_no_output_log_or_database_row(
    tmp_path, database_url, radicale, room_calendar, monkeypatch, caplog
):
    monkeypatch.setenv("CALSYNC_PLANTED_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    with CalDAVProvider(radicale.url) as provider:
        meeting = vevent("m1", "20261203T100000", "20261203T110000", "Plan")
        provider.create(room_calendar, "m1", ics(meeting))
    runner = CliRunner()
    outputs: list[str] = []

    with HostileServer(echoing) as hostile:
        path = tmp_path / "calsync.toml"
        path.write_text(config(database_url, radicale.url, hostile.url, room_calendar))

        def run(*args: str) -> str:
            result = runner.invoke(app, ["--config", str(path), *args])
            outputs.append(result.output)
            return result.output

        run("init")
        synced = json.loads(run("sync", "--json"))
        run("worker", "--once")  # sends Room A's answer to Radicale, with the credentials
        answered = [seen for seen in hostile.seen if seen.method == "PUT"]
        assert [seen.path for seen in answered] == ["/rooms/d/m1.ics"]
        assert answered[0].headers["Authorization"].startswith("Basic ")
    by_item = {result["item"]: result for result in synced}
    assert by_item["Room A"]["outcome"] == by_item["Room D"]["outcome"] == "succeeded"
    assert by_item["Room B"]["outcome"] == by_item["Room C"]["outcome"] == "failed"
    assert "401" in by_item["Room B"]["error"]
    assert "500" in by_item["Room C"]["error"]

    events = json.loads(run("events", "list", "--json", "--limit", "100"))
    assert {event["action"] for event in events} >= {"read", "respond"}
    for event in events:
        run("events", "show", str(event["id"]), "--json")
    for item in json.loads(run("items", "list", "--json", "--limit", "100")):
        run("items", "show", str(item["id"]), "--json")
    run("deltas", "list", "--json")
    run("reservations", "list", "--json")
    for name in ("Room A", "Room B", "Room C", "Room D"):
        run("export", "--item", name)

    dump = database_dump(database_url)
    for recorded in ("UID:m1", "not authorized (401)", "answered 500", "Authorization: Basic"):
        assert recorded in dump  # what the runs did is there to be searched
    looked_at = {"command output": "\n".join(outputs), "log": caplog.text, "database": dump}
    for where, text in looked_at.items():
        for form, secret in SECRETS.items():
            assert secret not in text, f"the {form} of the password is in the {where}"
