"""Polling: every bound calendar is read again once its poll interval has passed."""

from __future__ import annotations

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.records import RecordFilter
from calsync.worker.scheduler import enqueue_due_polls
from tests.sync.calendars import room_settings, sync

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
