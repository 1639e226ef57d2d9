"""What the fleet benchmark starts and must stop again: a throw-away PostgreSQL database, the
cached Radicale storage, `calsync` commands and `calsync worker` processes.

Every worker runs in a session of its own (its iCalendar readers' fork server with it), so
that stopping it ends the whole group by its id; its output goes to a file of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

import fleet_calendar as fc
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from calsync.radicale_server import RadicaleServer

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
LAYOUT_VERSION = 1  # bump when fleet_calendar changes what it writes
CALSYNC = [sys.executable, "-m", "calsync"]
STOP_GRACE_S = 30.0  # a worker may finish the event in hand before it is killed


def child_env() -> dict[str, str]:
    """The environment of calsync commands: only the configuration file says where."""
    hidden = {"CALSYNC_DATABASE_URL", "CALSYNC_CONFIG"}
    return {key: value for key, value in os.environ.items() if key not in hidden}


@contextmanager
def database(postgres_url: str, keep: bool = False) -> Iterator[str]:
    """A new PostgreSQL database's URL, dropped afterwards (whatever happens, unless `keep`)."""
    name = f"calsync_fleet_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def storage_folder(
    rooms: list[fc.Room],
    entries: int,
    answered: bool,
    first_day: date,
    log: Callable[[str], None],
) -> Path:
    """The fleet's Radicale storage counted from `first_day`, built and warmed once."""
    tag = "accepted" if answered else "asked"
    folder = WORK / f"fleet-r{len(rooms)}-e{entries}-{tag}-{first_day:%Y%m%d}-v{LAYOUT_VERSION}"
    if not folder.exists():
        began = time.perf_counter()
        scratch = WORK / f"building-{uuid.uuid4().hex[:8]}"
        fc.write_storage(scratch, rooms, entries, first_day, answered)
        scratch.rename(folder)
        log(f"wrote {len(rooms)} calendars of {entries} entries in {folder}")
        log(f"  in {time.perf_counter() - began:.1f} s")
    marker = folder / ".warm"
    if not marker.exists():
        # Radicale builds its item cache on the first listing of a collection: done once
        # here, kept with the storage, so that each measured run starts from the same state.
        began = time.perf_counter()
        with RadicaleServer(folder, start_timeout=60) as server, httpx.Client(timeout=600) as web:
            for room in rooms:
                answer = web.request(
                    "PROPFIND", server.url + room.calendar, headers={"Depth": "1"}, content=b""
                )
                answer.raise_for_status()
        seconds = time.perf_counter() - began
        log(f"  Radicale's first listing of every calendar (kept): {seconds:.1f} s")
        marker.write_text(f"{seconds:.3f}\n")
    return folder


def calsync(config: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """One `calsync` command, as an operator types it."""
    return subprocess.run(
        [*CALSYNC, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=config.parent,
        timeout=timeout,
        check=False,
    )


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    output: IO[bytes]
    log_path: Path
    exit_code: int | None = None

    def alive(self) -> bool:
        return self.process.poll() is None


def start_worker(config: Path, log_path: Path, extra: list[str]) -> Worker:
    """`calsync worker` with `extra` arguments (e.g. a log format), as an operator starts it."""
    output = log_path.open("wb")
    process = subprocess.Popen(
        [*CALSYNC, "--config", str(config), "worker", *extra],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=child_env() | {"PYTHONUNBUFFERED": "1"},
        cwd=config.parent,
        start_new_session=True,
    )
    return Worker(process, output, log_path)


def stop_workers(workers: list[Worker]) -> None:
    """SIGTERM each worker's group, wait for the grace period, then SIGKILL what is left."""
    for worker in workers:
        _signal_group(worker, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(worker, signal.SIGKILL)
            worker.process.wait(timeout=10)
        worker.exit_code = worker.process.returncode
        _signal_group(worker, signal.SIGKILL)  # what the group left behind (the fork server)
        worker.output.close()


def _signal_group(worker: Worker, which: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, which)  # the worker leads its own session


def tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
