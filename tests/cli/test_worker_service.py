"""`calsync worker` and `calsync sync` as real processes: SIGTERM ends the worker cleanly
within its grace period, each event run is one JSON log line, and a `kill -9`ed sync
leaves a calendar the next sync takes over. Real Radicale, both databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from calsync.providers.caldav import CalDAVProvider
from tests.cli.conftest import write_config
from tests.cli.slow_proxy import SlowProxy
from tests.sync.calendars import book

pytestmark = pytest.mark.radicale

GRACE = 3.0
LEASE = 8.0


def calsync(config: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "calsync", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


class Lines:
    """The lines a process writes to a stream, collected as they come."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(
            target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True
        ).start()

    def wait_for(self, found, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found(self.lines):
                return self.lines
            time.sleep(0.05)
        raise AssertionError(f"not seen within {timeout} s: {self.lines}")


def runs(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.startswith("{") and '"event_id"' in line]


def test_the_worker_logs_one_json_line_per_run_and_stops_on_sigterm_with_exit_0(
    tmp_path, database_url, radicale, room_calendar
):
    provider = CalDAVProvider(radicale.url)
    book(provider, room_calendar, "m1", 7)
    provider.close()
    config = write_config(
        tmp_path / "calsync.toml", database_url, radicale.url, room_calendar,
        f"stop_grace_seconds = {GRACE}",
    )  # fmt: skip
    alive = tmp_path / "alive"
    worker = calsync(
        config, "worker", "--log-format", "json", "--liveness-file", str(alive), "--interval", "0.2"
    )
    stderr = Lines(worker.stderr)
    try:
        stderr.wait_for(lambda lines: {r["action"] for r in runs(lines)} >= {"read", "respond"})
        assert alive.exists()
        check = subprocess.run(
            [sys.executable, "-m", "calsync", "worker", "--check", "--liveness-file", str(alive)],
            check=False,
        )
        assert check.returncode == 0
        stopped = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=GRACE + 10) == 0
        assert time.monotonic() - stopped < GRACE + 5
    finally:
        if worker.poll() is None:
            worker.kill()
    read = next(r for r in runs(stderr.lines) if r["action"] == "read")
    assert read["item"] == "Room A"
    assert read["outcome"] == "processed"
    assert read["attempt"] == 1
    assert isinstance(read["event_id"], int)
    assert read["duration_s"] >= 0


def test_sigterm_gives_back_a_claim_still_running_after_the_grace_period(
    tmp_path, database_url, radicale, room_calendar
):
    with SlowProxy(radicale.url, delay=30.0) as slow:
        config = write_config(
            tmp_path / "calsync.toml", database_url, slow.url, room_calendar,
            "stop_grace_seconds = 1.0",
        )  # fmt: skip
        worker = calsync(config, "worker", "--log-format", "json", "--interval", "0.2")
        try:
            deadline = time.monotonic() + 30
            while slow.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)  # the read is waiting on the server
            stopped = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=15) == 0
            assert time.monotonic() - stopped < 6
        finally:
            if worker.poll() is None:
                worker.kill()
    engine = create_engine(database_url)
    with engine.connect() as connection:
        states = connection.execute(text("SELECT action, state FROM events")).all()
    engine.dispose()
    assert [tuple(row) for row in states] == [("read", "new")]  # back in the queue


def test_a_sync_killed_mid_read_is_taken_over_and_converges(
    tmp_path, database_url, radicale, room_calendar
):
    provider = CalDAVProvider(radicale.url)
    for uid, day in (("m1", 7), ("m2", 8), ("m3", 9)):
        book(provider, room_calendar, uid, day)
    provider.close()
    with SlowProxy(radicale.url, delay=3.0) as slow:
        config = write_config(
            tmp_path / "calsync.toml", database_url, slow.url, room_calendar, lease=LEASE
        )
        killed = calsync(config, "sync")
        deadline = time.monotonic() + 30
        while slow.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the read is under way: its synchronization is `running`
        os.kill(killed.pid, signal.SIGKILL)
        lease_ends = time.monotonic() + LEASE
        killed.wait(timeout=10)
        slow.delay = 0.0

        busy = calsync(config, "sync")
        out, _ = busy.communicate(timeout=60)
        assert busy.returncode == 5, out  # the dead run's lease has not run out yet
        assert "has held it since" in " ".join(out.split())

        time.sleep(max(0.0, lease_ends - time.monotonic()) + 0.5)
        rerun = calsync(config, "sync", "--json")
        out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, out + err
    [synced] = json.loads(out)
    assert synced["outcome"] == "succeeded"
    assert synced["calendar_items"] == 3
    engine = create_engine(database_url)
    with engine.connect() as connection:
        outcomes = connection.execute(text("SELECT outcome FROM synchronizations ORDER BY id"))
        assert [row[0] for row in outcomes] == ["interrupted", "succeeded"]
        uids = connection.execute(text("SELECT uid FROM reservations ORDER BY uid"))
        assert [row[0] for row in uids] == ["m1", "m2", "m3"]
    engine.dispose()
