"""`send_outbound`: the room's answers go out side by side, bounded per connection,
against a real Radicale on both databases."""

from __future__ import annotations

import threading
import time

import pytest

from calsync.worker.outbound import pending_outbound, send_outbound
from calsync.worker.runner import request_sync, run_now
from tests.sync.calendars import book, room_settings

pytestmark = pytest.mark.radicale

WRITE_SECONDS = 0.4


class SlowWrites:
    """The room's provider, each edit (a room's answer) taking WRITE_SECONDS; counts the
    edits in flight."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.in_flight = self.most = 0
        self.lock = threading.Lock()

    def edit(self, *args, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(WRITE_SECONDS)
        try:
            return self.provider.edit(*args, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1

    def __getattr__(self, name):
        return getattr(self.provider, name)


def test_answers_to_different_meetings_are_sent_side_by_side_up_to_the_bound(
    make_services, room_calendar
):
    services = make_services(room_settings(room_calendar), {"push_concurrency": 4})
    for day in range(1, 9):
        book(services.provider("dav"), room_calendar, f"m{day}", day)
    run_now(services, request_sync(services, "Room A"))
    with services.uow() as uow:
        room = uow.items.get("Room A").id
    assert pending_outbound(services, [room]) == 8
    slow = services.providers["dav"] = SlowWrites(services.provider("dav"))

    started = time.monotonic()
    report = send_outbound(services, [room])
    elapsed = time.monotonic() - started

    assert report.total(report.sent) == 8
    assert slow.most == 4  # never more than push_concurrency at once
    assert elapsed < 8 * WRITE_SECONDS / 2  # one after another would take 3.2 s
    assert pending_outbound(services, [room]) == 0
