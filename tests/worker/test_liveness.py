"""A worker whose every slot runs a long event stays alive to its liveness probe: the
file is touched (and due polls queued) by the worker's own ticker, not only when the
dispatcher asks for claims."""

from __future__ import annotations

import threading
import time

import pytest

import calsync.worker.dispatch as dispatch
from calsync.worker.runner import request_sync
from calsync.worker.scheduler import liveness_age, run_forever
from tests.sync.calendars import room_settings

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(60)]


def test_a_worker_busy_with_a_long_read_stays_alive_for_its_liveness_probe(
    make_services, room_calendar, tmp_path, monkeypatch
):
    services = make_services(room_settings(room_calendar), {"push_concurrency": 1})
    request_sync(services, "Room A")
    real_run = dispatch.run_claimed

    def slow_run(services, claim):
        time.sleep(4)  # a slow server answering a large first listing
        return real_run(services, claim)

    monkeypatch.setattr(dispatch, "run_claimed", slow_run)
    liveness, stop = tmp_path / "alive", threading.Event()
    worker = threading.Thread(target=run_forever, args=(services, 0.1, stop, liveness), daemon=True)
    worker.start()
    try:
        time.sleep(3)
        age = liveness_age(liveness)
    finally:
        stop.set()
        worker.join(30)

    assert age is not None
    assert age < 1.0, f"liveness file last touched {age} s ago"
