"""Polling: every bound calendar is read again once its poll interval has passed; no-shows
are released on the worker's every turn."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.worker.scheduler import enqueue_due_polls, run_forever
from tests.sync.calendars import reservations, reserve, room_settings, sync

pytestmark = pytest.mark.radicale


def test_a_bound_calendar_is_polled_when_due_and_not_before(
    database_url, radicale, room_calendar, clock
):
    items = [*room_settings(room_calendar), {"name": "Unbound desk"}]
    services = start(
        parse(
            {
                "database": {"url": database_url},
                "sync": {"poll_seconds": 300},
                "connections": {"dav": {"kind": "caldav", "url": radicale.url}},
                "items": items,
            }
        ),
        clock,
    )
    try:
        [first] = enqueue_due_polls(services)  # never read: due now; the desk has no calendar
        assert enqueue_due_polls(services) == [first]  # a waiting read is not queued twice
        sync(services)
        clock.advance(seconds=299)
        assert enqueue_due_polls(services) == []  # read 299 s ago: not due yet
        clock.advance(seconds=2)
        [second] = enqueue_due_polls(services)
        assert second != first
        with services.uow() as uow:
            [waiting] = uow.events.find(RecordFilter(status="new", action="read"))
        assert waiting.id == second
    finally:
        services.close()


@pytest.mark.timeout(60)
def test_the_worker_releases_a_no_show_and_frees_its_room_in_the_calendar(
    make_services, room_calendar, clock, caplog
):
    [room] = room_settings(room_calendar)
    services = make_services([{**room, "policy": {"check_in_required": True}}])
    booked = reserve(services, "Stand-up")  # 5 December, 09:00 UTC
    clock.now = datetime(2026, 12, 5, 9, 15, tzinfo=UTC)
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="calsync.worker")
    worker = threading.Thread(target=run_forever, args=(services, 0.1, stop), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with services.uow() as uow:
                done = uow.events.find(RecordFilter(action="delete", status="processed"))
            if done:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(30)
    [released] = reservations(services)
    assert released.status == ReservationStatus.cancelled
    assert released.no_show_released_at == clock.now
    assert [e.reservation_id for e in done] == [booked.id]
    assert not services.provider("dav").fetch_changes(room_calendar, None).changes
    lines = [r.getMessage() for r in caplog.records if "no-show" in r.getMessage()]
    assert lines == [f"released 1 no-shows (not checked in within their grace period): {booked.id}"]
