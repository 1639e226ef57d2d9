"""A worker whose database connection drops in the middle of one run counts one failed
attempt, retried after its backoff, and goes on serving: the loop does not end, and the
other runs in hand keep their claims."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

import calsync.worker.runner as runner
from calsync.store.records import RecordFilter
from calsync.worker.runner import request_sync
from calsync.worker.scheduler import run_forever
from tests.sync.calendars import room_settings

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(60)]


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
    for _ in range(6):  # the failed attempt is retried after its backoff
        time.sleep(0.5)
        clock.advance(seconds=10)
    alive = worker.is_alive()
    stop.set()
    worker.join(30)

    assert crashed == []
    assert alive
    with services.read() as uow:
        assert [s.outcome for s in uow.synchronizations.find(RecordFilter())] == ["succeeded"]
