"""The worker's ticker (liveness, due polls, purges) outlives an error it did not expect:
a worker that keeps claiming events but has silently stopped polling its calendars looks
healthy to everyone and synchronizes nothing."""

from __future__ import annotations

import threading

import pytest

import calsync.worker.scheduler as scheduler
from calsync.store.records import RecordFilter
from calsync.worker.scheduler import run_forever
from tests.sync.calendars import room_settings
from tests.worker.patience import wait_until

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(120)]


def reads_queued(services) -> bool:
    with services.uow() as uow:
        return bool(uow.events.find(RecordFilter(action="read")))


def test_a_worker_whose_poll_queueing_failed_once_unexpectedly_still_polls(
    make_services, room_calendar, monkeypatch
):
    services = make_services(room_settings(room_calendar))
    real = scheduler.enqueue_due_polls
    failures: list[int] = []

    def fails_once(services_):
        if not failures:
            failures.append(1)
            raise RuntimeError("an error nobody expected (a driver's, a bug's)")
        return real(services_)

    monkeypatch.setattr(scheduler, "enqueue_due_polls", fails_once)
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(services, 0.1, stop), daemon=True)
    worker.start()
    try:
        wait_until(lambda: reads_queued(services) or not worker.is_alive())
        alive = worker.is_alive()
    finally:
        stop.set()
        worker.join(30)
    assert failures == [1]
    assert reads_queued(services) or not alive, (
        "the worker runs on, but no poll was queued after one unexpected error"
    )
