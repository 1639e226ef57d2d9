"""Review: a worker whose database connection drops in the middle of one run.

The runner turns calsync's errors into a retried or failed event, but a database error
raised inside a run (PostgreSQL restarted, the connection closed by a proxy) is no
CalsyncError: it leaves `run_claimed`, the dispatcher re-raises it from the run's future,
and the whole `calsync worker` loop ends with a traceback, abandoning the other runs in
hand with their claims, instead of counting one failed attempt and going on.
"""

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
    make_services, room_calendar, monkeypatch
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
        except OperationalError as exc:  # what ends the loop today
            crashed.append(exc)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    time.sleep(3)
    alive = worker.is_alive()
    stop.set()
    worker.join(30)

    assert crashed == []
    assert alive
    with services.read() as uow:
        assert [s.outcome for s in uow.synchronizations.find(RecordFilter())] == ["succeeded"]
