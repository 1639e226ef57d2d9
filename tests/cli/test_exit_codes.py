"""Exit codes a cron job can trust (calsync.cli.exit_codes), and `sync` sending the room's
answers after its reads, against a real Radicale on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import load
from calsync.domain.events import Action
from calsync.domain.synchronizations import SyncOutcome
from calsync.store.tables import SynchronizationRow
from tests.cli.conftest import write_config
from tests.sync.calendars import book

pytestmark = pytest.mark.radicale


def partstats(provider, calendar: str) -> list[str]:
    entries = provider.fetch_changes(calendar, None).changes
    return sorted(
        line.split("PARTSTAT=")[1].split(";")[0].split(":")[0]
        for entry in entries
        for line in (entry.data or b"").decode().splitlines()
        if "CUTYPE=ROOM" in line
    )


def test_sync_sends_the_room_answers_after_the_read_and_says_how_many(calsync):
    for uid, day in (("m1", 7), ("m2", 8), ("m3", 9)):
        book(calsync.provider, calsync.calendar, uid, day)
    result = calsync("sync", "--json")
    assert result.exit_code == 0, result.output
    [synced] = json.loads(result.output)
    assert (synced["outbound_sent"], synced["outbound_failed"]) == (3, 0)
    assert partstats(calsync.provider, calsync.calendar) == ["ACCEPTED"] * 3

    book(calsync.provider, calsync.calendar, "m4", 10)
    result = calsync("sync")
    assert "sent 1 outbound events, 0 failed" in result.output


def test_sync_no_push_leaves_the_answers_queued(calsync):
    book(calsync.provider, calsync.calendar, "m1", 7)
    result = calsync("sync", "--no-push", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["outbound_sent"] == 0
    assert partstats(calsync.provider, calsync.calendar) == ["NEEDS-ACTION"]
    queued = json.loads(calsync("events", "list", "--json", "--action", "respond").output)
    assert [event["state"] for event in queued] == ["new"]


def test_sync_exits_3_when_a_read_fails(tmp_path, database_url, room_calendar):
    config = write_config(tmp_path / "down.toml", database_url, "http://127.0.0.1:9", room_calendar)
    from typer.testing import CliRunner

    from calsync.cli import app

    result = CliRunner().invoke(app, ["--config", str(config), "sync"])
    assert result.exit_code == 3, result.output


def test_sync_exits_4_when_a_synchronization_needs_confirmation(calsync):
    hrefs = [
        book(calsync.provider, calsync.calendar, uid, day) for uid, day in (("a", 7), ("b", 8))
    ]
    assert calsync("sync").exit_code == 0
    for href in hrefs:
        calsync.provider.delete(calsync.calendar, href, None)
    result = calsync("sync", "--full")
    assert result.exit_code == 4, result.output
    assert "Room A: needs confirmation" in result.output


def test_worker_once_and_reprocess_failed_exit_3_when_events_end_in_error(calsync):
    assert calsync("sync").exit_code == 0
    services = start(load(calsync.config))
    try:
        with services.uow() as uow:
            room = uow.items.get("Room A").id
            # A create of a reservation that is not there: it can only end in error.
            uow.events.add(room, Action.create, datetime.now(UTC), {}, "no-such-reservation")
            uow.commit()
    finally:
        services.close()
    result = calsync("worker", "--once")
    assert result.exit_code == 3, result.output
    assert "1 ended in error" in result.output
    result = calsync("events", "reprocess", "--failed")
    assert result.exit_code == 3, result.output
    assert "ended in error again" in result.output


def test_sync_takes_over_a_calendar_whose_last_run_was_killed(calsync):
    """What `kill -9` of `calsync sync` leaves: the read `processing` with a lease that
    ran out, and its synchronization `running`. The next `sync` goes ahead."""
    book(calsync.provider, calsync.calendar, "m1", 7)
    services = start(load(calsync.config))
    killed_at = datetime.now(UTC) - timedelta(minutes=5)
    try:
        with services.uow() as uow:
            room = uow.items.get("Room A").id
            dead = uow.events.add(room, Action.read, killed_at, {"item": "Room A"})
            uow.events.claim_one(dead.id, killed_at, timedelta(seconds=60))
            uow.synchronizations.add(
                SynchronizationRow(
                    item_id=room, started_at=killed_at, mode="full", events_created=1,
                    calendar_items_created=0, outcome=SyncOutcome.running.value, detail="",
                )
            )  # fmt: skip
            uow.commit()
    finally:
        services.close()
    result = calsync("sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["outcome"] == "succeeded"
    deltas = json.loads(calsync("deltas", "list", "--json").output)
    assert [delta["outcome"] for delta in deltas] == ["succeeded", "interrupted"]
    [reservation] = json.loads(calsync("reservations", "list", "--json").output)
    assert reservation["status"] == "confirmed"


def test_worker_check_exits_6_without_a_fresh_liveness_file(calsync, tmp_path):
    alive = tmp_path / "alive"
    assert calsync("worker", "--check", "--liveness-file", str(alive)).exit_code == 6
    alive.touch()
    assert calsync("worker", "--check", "--liveness-file", str(alive)).exit_code == 0
    result = calsync("worker", "--check", "--liveness-file", str(alive), "--max-age", "0")
    assert result.exit_code == 6


def test_the_exit_codes_are_in_the_help(calsync):
    shown = " ".join(calsync("--help").output.split())
    assert "3 events ended in error" in shown
    assert "5 calendar busy" in shown
