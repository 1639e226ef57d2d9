"""Workers that stall do not run work twice: a live run keeps its claim however slow the
server, a stalled one loses it and commits nothing more, against a real Radicale on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest

from calsync.bootstrap import start
from calsync.errors import ProviderUnavailable
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationFilter
from calsync.worker import lease
from calsync.worker.runner import RunResult, request_sync, run_once
from tests.conftest import settings_for
from tests.sync.calendars import book, room_settings
from tests.worker.patience import PATIENCE_SECONDS

pytestmark = pytest.mark.radicale

LEASE = 1.0


class StalledServer:
    """The room's CalDAV provider, answering a read only once the test lets it: `stalled`
    says a read is waiting, `resume` lets it go on. The test decides what happens while
    the read waits, however slowly a loaded machine got the run there."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.stalled, self.resume = threading.Event(), threading.Event()

    def stall(self) -> None:
        self.stalled.set()
        self.resume.wait(PATIENCE_SECONDS)

    def fetch_changes(self, *args, **kwargs):
        self.stall()
        return self.provider.fetch_changes(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.provider, name)


@pytest.fixture
def two_workers(database_url, radicale, room_calendar):
    """Two workers (real clock, a one-second lease) on one database; worker A's server
    stalls its reads until the test lets them go on."""
    settings = settings_for(
        database_url, radicale.url, room_settings(room_calendar), {"lease_seconds": LEASE}
    )
    first, second = start(settings), start(settings)
    server = first.providers["dav"] = StalledServer(first.provider("dav"))
    for uid, day in (("m1", 7), ("m2", 8), ("m3", 9)):
        book(second.provider("dav"), room_calendar, uid, day)
    yield first, second
    server.resume.set()  # a test that failed midway leaves no run waiting
    first.close()
    second.close()


def in_thread(run) -> tuple[threading.Thread, list[RunResult]]:
    results: list[RunResult] = []
    thread = threading.Thread(target=lambda: results.extend(run()))
    thread.start()
    return thread, results


def stalled_for_a_while(server: StalledServer) -> None:
    """Once the run has claimed its event and reached the server: 1.5 leases later (the
    lease it took or last renewed before the server stalled has run out by then)."""
    assert server.stalled.wait(PATIENCE_SECONDS), "the run never reached the server"
    time.sleep(1.5 * LEASE)


def test_a_slow_read_keeps_its_claim_while_its_worker_lives(two_workers):
    slow, other = two_workers
    event_id = request_sync(slow, "Room A")
    thread, results = in_thread(lambda: run_once(slow, limit=1))
    stalled_for_a_while(slow.providers["dav"])  # the first lease ran out, but it was renewed
    assert run_once(other) == []
    slow.providers["dav"].resume.set()
    thread.join(timeout=30)
    assert [(result.event_id, result.outcome) for result in results] == [(event_id, "processed")]
    with other.uow() as uow:
        assert [s.outcome for s in uow.synchronizations.find(RecordFilter())] == ["succeeded"]


def test_a_stalled_read_taken_over_by_another_worker_commits_nothing_more(two_workers, monkeypatch):
    """The stalled worker stops renewing (a paused process); the second takes the read
    over. One synchronization's results, one delta key, no calendar item twice."""
    stalled, other = two_workers
    event_id = request_sync(stalled, "Room A")
    renew = lease.Heartbeat.renew

    def paused(heartbeat: lease.Heartbeat) -> None:
        if heartbeat.services is not stalled:
            renew(heartbeat)

    monkeypatch.setattr(lease.Heartbeat, "renew", paused)
    thread, lost = in_thread(lambda: run_once(stalled, limit=1))
    stalled_for_a_while(stalled.providers["dav"])
    [taken_over] = run_once(other, limit=1)
    stalled.providers["dav"].resume.set()
    thread.join(timeout=30)

    assert taken_over.event_id == event_id
    assert taken_over.outcome == "processed"
    assert [result.outcome for result in lost] == ["claim_lost"]
    with other.uow() as uow:
        synchronizations = uow.synchronizations.find(RecordFilter())
        assert sorted(s.outcome for s in synchronizations) == ["interrupted", "succeeded"]
        [done] = [s for s in synchronizations if s.outcome == "succeeded"]
        assert uow.items.get("Room A").delta_key == done.delta_key_after
        calendar_items = uow.calendar_items.find(RecordFilter())
        assert len(calendar_items) == 3
        assert {c.synchronization_id for c in calendar_items} == {done.id}
        assert uow.events.get(event_id).state == "processed"
        reservations = uow.reservations.find(ReservationFilter(limit=100))
    assert sorted(r.uid for r in reservations) == ["m1", "m2", "m3"]


class FailingStalledServer(StalledServer):
    """Reads or writes an object only to fail once the test lets it go on."""

    def get(self, *args, **kwargs):
        self.stall()
        raise ProviderUnavailable("the server went away")

    edit = get


def test_a_stalled_run_that_then_fails_does_not_record_its_failure_over_the_takeover(
    two_workers, monkeypatch
):
    stalled, other = two_workers
    request_sync(other, "Room A")
    run_once(other, limit=1)  # the read: the room's three answers are queued
    server = stalled.providers["dav"] = FailingStalledServer(other.provider("dav"))
    monkeypatch.setattr(lease.Heartbeat, "renew", lambda heartbeat: None)  # all paused
    thread, lost = in_thread(lambda: run_once(stalled, limit=1))
    try:
        stalled_for_a_while(server)
        [taken_over] = run_once(other, limit=1)
    finally:
        server.resume.set()
    thread.join(timeout=30)
    assert taken_over.outcome == "processed"
    assert [(result.event_id, result.outcome) for result in lost] == [
        (taken_over.event_id, "claim_lost")
    ]
    with other.uow() as uow:
        event = uow.events.get(taken_over.event_id)
        assert (event.action, event.state, event.attempts, event.error) == (
            "respond",
            "processed",
            0,
            "",
        )
