"""The command line, as an admin uses it, against a real Radicale and both databases."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from calsync.bootstrap import start
from calsync.cli import app
from calsync.config import load
from calsync.domain.events import Action
from calsync.providers.caldav import CalDAVProvider
from tests.sync.calendars import ics, vevent

pytestmark = pytest.mark.radicale
SECRET = "do-not-leak-this-7f3a"


@pytest.fixture
def cli(tmp_path, database_url, radicale, room_calendar, monkeypatch):
    monkeypatch.setenv("CALSYNC_DAV_PASSWORD", SECRET)
    config = tmp_path / "calsync.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[connections.dav]
kind = "caldav"
url = "{radicale.url}"
username = "calsync"
password_env = "CALSYNC_DAV_PASSWORD"

[[items]]
name = "Room A"
time_zone = "Europe/Berlin"
binding = {{ connection = "dav", calendar = "{room_calendar}", room_address = "room-a@example.com" }}
"""
    )
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "init"]).exit_code == 0

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    provider = CalDAVProvider(radicale.url)
    run.config = config
    yield run, provider, room_calendar
    provider.close()


def test_sync_then_every_list_shows_what_happened_as_json(cli):
    run, provider, calendar = cli
    provider.create(calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000", "Plan")))
    [synced] = json.loads(run("sync", "--json"))
    assert synced["outcome"] == "succeeded"
    assert synced["calendar_items"] == 1

    [delta] = json.loads(run("deltas", "list", "--json", "--item", "Room A"))
    assert delta["mode"] == "full"
    assert delta["delta_key_after"].startswith("http://radicale.org/ns/sync/")
    assert delta["calendar_items_created"] == 1

    [item] = json.loads(run("items", "list", "--json", "--status", "applied"))
    assert item["kind"] == "new_reservation"
    shown = json.loads(run("items", "show", str(item["id"]), "--json"))
    assert "UID:m1" in shown["provider_payload"]

    [reservation] = json.loads(run("reservations", "list", "--json"))
    assert reservation["subject"] == "Plan"
    assert reservation["status"] == "confirmed"


def test_event_exports_are_formatted_json_without_secrets(cli):
    run, provider, calendar = cli
    provider.create(calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000")))
    run("sync")
    run("worker", "--once")
    events = json.loads(run("events", "list", "--json"))
    assert {e["action"] for e in events} == {"read", "respond"}
    for event in events:
        shown = run("events", "show", str(event["id"]), "--json")
        assert SECRET not in shown
        assert json.loads(shown)["schema"] == "calsync.event/1"
        assert "Authorization" not in shown
    readable = run("events", "show", str(events[0]["id"]))
    assert "provider payload" in readable
    assert "response" in readable


def test_reservations_made_on_the_command_line_reach_the_calendar(cli):
    run, provider, calendar = cli
    made = json.loads(
        run(
            "reservations", "create", "--item", "Room A", "--start", "2026-12-04T09:00:00+00:00",
            "--end", "2026-12-04T10:00:00+00:00", "--subject", "Interview", "--json",
        )
    )  # fmt: skip
    run("worker", "--once")
    assert len(provider.fetch_changes(calendar, None).changes) == 1
    cancelled = json.loads(run("reservations", "cancel", made["id"], "--json"))
    assert cancelled["status"] == "cancelled"
    run("worker", "--once")
    assert provider.fetch_changes(calendar, None).changes == ()


def test_export_sends_existing_reservations_when_sync_is_turned_on(cli):
    run, provider, calendar = cli
    with_binding = run.config.read_text()
    run.config.write_text(with_binding.replace("binding = {", "# binding = {"))
    run(
        "reservations", "create", "--item", "Room A", "--start", "2026-12-07T09:00:00+00:00",
        "--end", "2026-12-07T10:00:00+00:00", "--subject", "Made before sync",
    )  # fmt: skip
    run.config.write_text(with_binding)  # sync is turned on for the room
    assert "1 create events queued" in run("export", "--item", "Room A")
    run("worker", "--once")
    [entry] = provider.fetch_changes(calendar, None).changes
    assert b"Made before sync" in (entry.data or b"")
    assert "0 create events queued" in run("export", "--item", "Room A")


def test_errors_are_one_clear_line_with_advice(tmp_path):
    config = tmp_path / "calsync.toml"
    config.write_text('[[items]]\nname = "Room A"\ntime_zone = "Nowhere/Land"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "config", "check"])
    assert result.exit_code == 1
    assert "items.0.time_zone" in result.output
    assert "calsync config check" in result.output


def test_config_check_lists_groups_and_approval_rules_in_the_order_they_are_tried(tmp_path):
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[items]]\nname = "Room A"\n'
        '[groups.facilities]\nmembers = ["anna@example.com", "ben@example.com"]\n'
        '[[approval_rules]]\nname = "big"\nmin_capacity = 10\n'
        'performer = { group = "facilities" }\n'
        '[[approval_rules]]\nname = "rest"\nperformer = { person = "boss@example.com" }\n'
    )
    result = CliRunner().invoke(app, ["--config", str(config), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "group facilities: 2 members" in result.output
    assert "approval rule 1 'big': decided by group facilities" in result.output
    assert "approval rule 2 'rest': decided by boss@example.com" in result.output
    config.write_text(config.read_text().replace('group = "facilities"', 'group = "cleaners"'))
    result = CliRunner().invoke(app, ["--config", str(config), "config", "check"])
    assert result.exit_code == 1
    assert "approval rule 'big' names unknown group 'cleaners'" in result.output


def test_help_and_config_check_start_without_the_database_layer(tmp_path):
    """What answers at once (help, checking the file) loads neither SQLAlchemy nor the
    drivers nor the iCalendar readers: these are what make a command take a second."""
    config = tmp_path / "calsync.toml"
    config.write_text('[[items]]\nname = "Room A"\n')
    program = f"""
import sys
from typer.testing import CliRunner
from calsync.cli import app
for args in (["--help"], ["reservations", "create", "--help"],
             ["--config", {str(config)!r}, "config", "check"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
heavy = ("sqlalchemy", "psycopg", "icalendar", "recurring_ical_events", "httpx")
print(sorted(name for name in heavy if name in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_demo_runs_end_to_end_and_exits_zero(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "calsync", "demo", "--keep", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "synchronization deltas" in result.stdout
    assert "declined" in result.stdout  # the clash
    assert "incremental" in result.stdout  # the second round used the delta keys
    assert Path(tmp_path / "demo" / "calsync.db").exists()


def test_sync_says_so_when_another_worker_is_reading_the_calendar(cli):
    run, _, _ = cli
    run("sync")  # the item exists and was read once
    settings_path = str(run.config)
    services = start(load(run.config))
    try:
        with services.uow() as uow:
            busy = uow.events.add(uow.items.get("Room A").id, Action.read, datetime.now(UTC), {})
            uow.events.claim_one(busy.id, datetime.now(UTC), timedelta(minutes=5))
            uow.commit()
    finally:
        services.close()
    result = CliRunner().invoke(app, ["--config", settings_path, "sync"])
    assert result.exit_code == 5  # calendar busy: see calsync.cli.exit_codes
    assert "already running" in result.output
