"""`calsync approvals`: what a performer sees and decides, with exit codes a script trusts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.cli.common import console
from tests.cli.conftest import write_config
from tests.sync.calendars import book, partstats

RULES = """
[groups.facilities]
members = ["anna@example.com", "ben@example.com"]

[[approval_rules]]
name = "board"
items = ["Room A"]
performer = { group = "facilities" }
"""


@pytest.fixture
def calsync(tmp_path, database_url, radicale, room_calendar, monkeypatch):
    monkeypatch.setattr(console, "width", 200)
    config = write_config(tmp_path / "c.toml", database_url, radicale.url, room_calendar, RULES)
    from calsync.providers.caldav import CalDAVProvider

    organizer = CalDAVProvider(radicale.url, timeout=10.0)

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        assert result.exit_code == code, result.output
        return result.output

    run.organizer, run.calendar = organizer, room_calendar
    yield run
    organizer.close()


def waiting_booking(calsync) -> dict:
    book(calsync.organizer, calsync.calendar, "m1", 3)
    calsync("sync")
    [approval] = json.loads(calsync("approvals", "list", "--json"))
    return approval


def test_a_member_lists_what_waits_for_them_and_a_stranger_sees_nothing(calsync):
    approval = waiting_booking(calsync)
    assert approval["performer"] == "group facilities"
    assert approval["reservation"]["status"] == "pending_approval"
    mine = json.loads(calsync("approvals", "list", "--as", "anna@example.com", "--json"))
    assert [a["id"] for a in mine] == [approval["id"]]
    assert json.loads(calsync("approvals", "list", "--as", "eve@example.com", "--json")) == []
    assert "board" in calsync("approvals", "list")


def test_approve_by_reservation_id_then_the_calendar_shows_accepted(calsync):
    approval = waiting_booking(calsync)
    out = calsync(
        "approvals", "approve", approval["reservation_id"][-8:], "--as", "anna@example.com",
        "--reason", "ok", "--json",
    )  # fmt: skip
    decided = json.loads(out)
    assert decided[0]["state"] == "approved"
    calsync("worker", "--once")
    assert partstats(calsync.organizer, calsync.calendar) == {"m1": "ACCEPTED"}
    shown = json.loads(calsync("approvals", "list", "--state", "approved", "--json"))
    assert (shown[0]["decided_by"], shown[0]["reason"]) == ("anna@example.com", "ok")


def test_a_second_decision_exits_8_and_a_stranger_exits_9(calsync):
    approval = waiting_booking(calsync)
    ident = str(approval["id"])
    out = calsync("approvals", "reject", ident, "--as", "eve@example.com", code=9)
    assert "group facilities decides it" in out
    calsync("approvals", "reject", ident, "--as", "ben@example.com", "--reason", "taken")
    out = calsync("approvals", "approve", ident, "--as", "anna@example.com", code=8)
    assert "already rejected by ben@example.com" in out
    assert json.loads(calsync("approvals", "show", ident, "--json"))["state"] == "rejected"
