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

#: How long the first edit waits for the others of its bound. Only a dispatcher that never
#: lets them meet waits it out, and only once: however loaded the machine, side-by-side
#: edits meet well within it.
MEETING_SECONDS = 30.0

#: How long each edit stays in flight once the bound met: an edit beyond the bound would
#: arrive meanwhile and be counted with them.
OVERLAP_SECONDS = 0.3


class MeetingWrites:
    """The room's provider, holding each edit (a room's answer) until `bound` edits are in
    flight at once, then for OVERLAP_SECONDS; counts the edits in flight and lists the
    objects edited. What it observes does not depend on how fast the machine is: edits
    sent one after another never meet, edits sent side by side always do."""

    def __init__(self, provider, bound: int) -> None:
        self.provider, self.bound = provider, bound
        self.in_flight = self.most = 0
        self.arrivals: list[str] = []
        self.lock = threading.Lock()
        self.met = threading.Event()

    def edit(self, calendar, provider_id, *args, **kwargs):
        with self.lock:
            self.arrivals.append(provider_id)
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.most >= self.bound:
                self.met.set()
        try:
            if not self.met.wait(MEETING_SECONDS):
                self.met.set()  # they never met: let the rest through, `most` tells
            time.sleep(OVERLAP_SECONDS)
            return self.provider.edit(calendar, provider_id, *args, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1

    def __getattr__(self, name):
        return getattr(self.provider, name)


def test_answers_to_different_meetings_are_sent_side_by_side_up_to_the_bound(
    make_services, room_calendar
):
    services = make_services(room_settings(room_calendar), {"push_concurrency": 4})
    meetings = {
        book(services.provider("dav"), room_calendar, f"m{day}", day) for day in range(1, 9)
    }
    run_now(services, request_sync(services, "Room A"))
    with services.uow() as uow:
        room = uow.items.get("Room A").id
    assert pending_outbound(services, [room]) == 8
    writes = services.providers["dav"] = MeetingWrites(services.provider("dav"), bound=4)

    report = send_outbound(services, [room])

    assert report.total(report.sent) == 8
    assert writes.most == 4  # side by side (one after another: 1), never beyond the bound
    assert sorted(writes.arrivals) == sorted(meetings)  # each meeting answered once
    assert pending_outbound(services, [room]) == 0
