"""A worker whose every slot runs a long event stays alive to its liveness probe: the
file is touched (and due polls queued) by the worker's own ticker, not only when the
dispatcher asks for claims."""

from __future__ import annotations

import threading

import pytest

import calsync.worker.dispatch as dispatch
from calsync.worker.runner import request_sync
from calsync.worker.scheduler import run_forever
from tests.sync.calendars import room_settings
from tests.worker.patience import PATIENCE_SECONDS, wait_until

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(90)]


def test_a_worker_busy_with_a_long_read_stays_alive_for_its_liveness_probe(
    make_services, room_calendar, tmp_path, monkeypatch
):
    services = make_services(room_settings(room_calendar), {"push_concurrency": 1})
    request_sync(services, "Room A")
    real_run = dispatch.run_claimed
    reading, answered = threading.Event(), threading.Event()

    def slow_run(services, claim):
        reading.set()
        answered.wait(PATIENCE_SECONDS * 2)  # a slow server answering a large first listing
        return real_run(services, claim)

    monkeypatch.setattr(dispatch, "run_claimed", slow_run)
    liveness, stop = tmp_path / "alive", threading.Event()
    worker = threading.Thread(target=run_forever, args=(services, 0.1, stop, liveness), daemon=True)
    worker.start()
    try:
        assert reading.wait(PATIENCE_SECONDS), "the worker never started the read"
        touches = [liveness.stat().st_mtime_ns]  # the file's times since the read began

        def touched_twice() -> bool:
            if (modified := liveness.stat().st_mtime_ns) > touches[-1]:
                touches.append(modified)
            return len(touches) > 2

        touched = wait_until(touched_twice)
    finally:
        answered.set()
        stop.set()
        worker.join(30)

    assert touched, "the liveness file was not touched while the read ran"
