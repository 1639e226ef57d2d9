"""A worker whose database connection drops in the middle of one run counts one failed
attempt, retried after its backoff, and goes on serving: the loop does not end, and the
other runs in hand keep their claims."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError

import calsync.worker.runner as runner
from calsync.store.records import RecordFilter
from calsync.worker.runner import request_sync
from calsync.worker.scheduler import run_forever
from tests.sync.calendars import room_settings
from tests.worker.patience import wait_until

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(120)]


def reads(services) -> list[tuple[str, int]]:
    """The read events' states and failed attempts."""
    with services.read() as uow:
        return [(e.state, e.attempts) for e in uow.events.find(RecordFilter(action="read"))]


def failed_once(services) -> bool:
    return any(attempts for _, attempts in reads(services))


def processed(services) -> bool:
    return any(state == "processed" for state, _ in reads(services))


def test_a_worker_goes_on_after_its_database_connection_dropped_during_a_run(
    make_services, room_calendar, monkeypatch, clock
):
    services = make_services(room_settings(room_calendar), {"backoff_seconds": 0.1})
    request_sync(services, "Room A")
    real = runner.synchronize
    calls: list[int] = []

    def drops_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(
                "COMMIT", {}, Exception("server closed the connection unexpectedly")
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "synchronize", drops_once)
    stop, crashed = threading.Event(), []

    def serve() -> None:
        try:
            run_forever(services, 0.1, stop)
        except OperationalError as exc:  # what ended the loop before
            crashed.append(exc)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        recorded = wait_until(lambda: failed_once(services) or not worker.is_alive())
        assert recorded, "the failed attempt was never recorded"
        for _ in range(6):  # the failed attempt is retried after its backoff
            clock.advance(seconds=10)
            if wait_until(lambda: processed(services) or not worker.is_alive(), 0.5):
                break
        wait_until(lambda: processed(services) or not worker.is_alive())
        alive = worker.is_alive()
    finally:
        stop.set()
        worker.join(30)

    assert crashed == []
    assert alive
    assert reads(services) == [("processed", 1)]  # one failed attempt, retried
    with services.read() as uow:
        assert [s.outcome for s in uow.synchronizations.find(RecordFilter())] == ["succeeded"]
