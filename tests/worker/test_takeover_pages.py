"""A read that loses its claim after its first page was recorded: the worker taking it
over records nothing its predecessor recorded from the same delta key, so each entry is
recorded once and answered once, and one synchronization has the results."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from calsync.bootstrap import start
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationFilter
from calsync.worker import lease
from calsync.worker.runner import RunResult, request_sync, run_once
from tests.conftest import settings_for
from tests.sync.calendars import book, room_settings
from tests.worker.patience import PATIENCE_SECONDS

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(90)]

LEASE = 1.0


class StallsAfterFirstPage:
    """The room's provider, one object per page, stalling before page two (`stalled`)
    until the test lets it go on (`resume`). The first page is recorded by then: its
    commit is the callback of page one."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.stalled, self.resume = threading.Event(), threading.Event()
        provider.multiget_batch = 1

    def fetch_changes(self, calendar, delta_key, on_changes=None, since=None):
        pages = 0

        def seen(changes):
            nonlocal pages
            pages += 1
            if pages == 2:
                self.stalled.set()
                self.resume.wait(PATIENCE_SECONDS)
            if on_changes is not None:
                on_changes(changes)

        return self.provider.fetch_changes(calendar, delta_key, seen, since=since)

    def __getattr__(self, name):
        return getattr(self.provider, name)


def test_a_read_losing_its_claim_after_its_first_page_leaves_each_entry_recorded_once(
    database_url, radicale, room_calendar, monkeypatch
):
    settings = settings_for(
        database_url, radicale.url, room_settings(room_calendar), {"lease_seconds": LEASE}
    )
    stalled, other = start(settings), start(settings)
    try:
        for uid, day in (("m1", 7), ("m2", 8), ("m3", 9)):
            book(other.provider("dav"), room_calendar, uid, day)
        server = stalled.providers["dav"] = StallsAfterFirstPage(stalled.provider("dav"))
        renew = lease.Heartbeat.renew

        def paused(heartbeat: lease.Heartbeat) -> None:
            if heartbeat.services is not stalled:
                renew(heartbeat)

        monkeypatch.setattr(lease.Heartbeat, "renew", paused)
        event_id = request_sync(stalled, "Room A")
        lost: list[RunResult] = []
        thread = threading.Thread(target=lambda: lost.extend(run_once(stalled, limit=1)))
        thread.start()
        try:
            assert server.stalled.wait(PATIENCE_SECONDS), "the read never reached page two"
            time.sleep(1.5 * LEASE)  # the lease of page one's commit has run out
            [taken_over] = run_once(other, limit=1)
        finally:
            server.resume.set()
        thread.join(timeout=30)

        assert taken_over.event_id == event_id
        assert [result.outcome for result in lost] == ["claim_lost"]
        with other.uow() as uow:
            calendar_items = uow.calendar_items.find(RecordFilter(limit=100))
            answers = uow.events.find(RecordFilter(action="respond", limit=100))
            reservations = uow.reservations.find(ReservationFilter(limit=100))
        assert sorted(r.uid for r in reservations) == ["m1", "m2", "m3"]
        queued = Counter(json.loads(a.payload)["provider_id"] for a in answers)
        recorded = Counter(c.provider_id for c in calendar_items)
        assert max(queued.values()) == 1, f"room answers queued per entry: {queued}"
        assert max(recorded.values()) == 1, f"calendar items per entry: {recorded}"
    finally:
        stalled.close()
        other.close()
