"""A worker whose every slot runs a long event stays alive to its liveness probe: the
file is touched (and due polls queued) by the worker's own ticker, not only when the
dispatcher asks for claims."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import calsync.worker.dispatch as dispatch
from calsync.worker.runner import request_sync
from calsync.worker.scheduler import run_forever
from tests.sync.calendars import room_settings

pytestmark = [pytest.mark.radicale, pytest.mark.timeout(90)]

#: How long the test waits for what a live worker does within a fraction of a second:
#: only a worker that never does it waits it out.
PATIENCE_SECONDS = 30.0


def touched_after(path: Path, mark_ns: int, deadline: float) -> int | None:
    """The file's modification time once it is later than `mark_ns`; None if it is not
    by `deadline` (on the monotonic clock)."""
    while time.monotonic() < deadline:
        if (modified := path.stat().st_mtime_ns) > mark_ns:
            return modified
        time.sleep(0.05)
    return None


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
        deadline = time.monotonic() + PATIENCE_SECONDS
        first = touched_after(liveness, liveness.stat().st_mtime_ns, deadline)
        second = None if first is None else touched_after(liveness, first, deadline)
    finally:
        answered.set()
        stop.set()
        worker.join(30)

    assert second is not None, "the liveness file was not touched while the read ran"
