"""Benchmark: a fleet of room calendars under load, measured from outside.

    .venv/bin/python bench/fleet.py [--rooms 500] [--entries 200] [--minutes 10]
        [--workers 1,2] [--poll-seconds 60] [--minute-seconds 60] [--drain-timeout 1800]

For each worker count, from scratch: a copy of the fleet's Radicale storage (R room
calendars of E single meetings, built once and cached under bench/.work/), a new
PostgreSQL database, a `calsync.toml` with one item per room, `calsync init`, then
`calsync worker` processes (each in its own session, its output in a file of its own).

1. The first synchronization of the fleet: the workers poll every room (nothing was ever
   read); timed until every room's first read has been applied. The room answers it
   queued (each meeting invites the room, which answers) are timed until none waits.
2. The load, once every room was read: each minute (`--minute-seconds` long) 5% of the
   rooms change on the server (meetings moved, deleted, booked: PUT/DELETE as a calendar
   client sends them) and calsync books in 1% of the rooms, through the product's CLI
   (`calsync reservations create`, one process per booking, as an operator or a script
   runs it; at 1% of the rooms a minute a process per booking keeps up).
3. The drain: the load stops; the bench waits (at most `--drain-timeout`) until every
   change has reached its reservation, every booking its calendar and no outbound event
   waits. Then the workers get SIGTERM, and the final check (`fleet_check`) compares the
   calendars on disk with the reservations.

Printed: one row per worker count (synchronizations and outbound events per second during
the load, the lag from a change on the server to its reservation, events in error,
changes lost, the check), then the first synchronization, the answers' backlog and the
database's growth. Every process and database it starts is stopped and dropped on exit,
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType

import fleet_calendar as fc
import fleet_procs as procs
import fleet_report as report
from fleet_check import check
from fleet_load import Booker, plan_load, run_load
from fleet_watch import Watch
from sqlalchemy import Engine, create_engine, func, select

from calsync.radicale_server import RadicaleServer
from calsync.store.tables import CalendarItemRow, EventRow, ItemRow

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CONNECTION = "fleet"


@dataclass
class RunFigures:
    """What one run with `workers` workers measured."""

    workers: int
    init_s: float = 0.0
    first_sync_s: float | None = None
    answers_queued: int = 0
    answers_sent_s: float | None = None  # from the workers' start until none waited
    load_s: float = 0.0
    syncs: int = 0
    outbound: int = 0
    lags: list[float] = field(default_factory=list)
    changes: int = 0
    change_failures: list[str] = field(default_factory=list)  # refused by the server
    lost: int = 0
    bookings: int = 0
    booking_failures: list[str] = field(default_factory=list)
    booking_command_s: list[float] = field(default_factory=list)
    booking_sent_lags: list[float] = field(default_factory=list)
    bookings_unsent: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # events in error, by action
    quick_repolls: int = 0  # reads of a room started < 2 s after its previous one
    drain_s: float = 0.0
    drained: bool = False
    db_bytes: dict[str, int] = field(default_factory=dict)
    rows_added: dict[str, int] = field(default_factory=dict)  # during the load
    check_ok: bool = False
    check: str = ""
    worker_exits: list[int | None] = field(default_factory=list)
    watch_errors: list[str] = field(default_factory=list)
    logs: str = ""


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def write_config(
    folder: Path, database_url: str, dav_url: str, fleet: list[fc.Room], poll: float
) -> Path:
    lines = [
        "[database]",
        f'url = "{database_url}"',
        "[sync]",
        f"poll_seconds = {poll}",
        f"[connections.{CONNECTION}]",
        'kind = "caldav"',
        f'url = "{dav_url}"',
    ]
    for room in fleet:
        lines += [
            "[[items]]",
            f'name = "{room.name}"',
            f'time_zone = "{fc.ZONE}"',
            "[items.binding]",
            f'connection = "{CONNECTION}"',
            f'calendar = "{room.calendar}"',
            f'room_address = "{room.address}"',
        ]
    path = folder / "calsync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def item_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: id_ for id_, name in connection.execute(select(ItemRow.id, ItemRow.name))}


def wait_first_sync(
    engine: Engine, rooms: int, workers: list[procs.Worker], timeout: float
) -> float | None:
    """Seconds until every room's first read was applied (None if it did not happen).

    A read event is marked processed when its changes are recorded, before they are
    applied: applied means also no read running and no calendar item left pending."""
    began, last_said = time.monotonic(), 0.0
    read = select(func.count(func.distinct(EventRow.item_id))).where(
        EventRow.action == "read", EventRow.state == "processed"
    )
    running = select(func.count()).where(EventRow.action == "read", EventRow.state == "processing")
    pending = select(func.count()).where(CalendarItemRow.status == "pending")
    while time.monotonic() - began < timeout:
        with engine.connect() as connection:
            done = connection.execute(read).scalar_one()
            settled = done >= rooms and connection.execute(running).scalar_one() == 0
            if settled and connection.execute(pending).scalar_one() == 0:
                return time.monotonic() - began
        if not any(worker.alive() for worker in workers):
            log("every worker exited before the first synchronization ended")
            return None
        if time.monotonic() - last_said > 30:
            last_said = time.monotonic()
            log(f"  first synchronization: {done} of {rooms} rooms read")
        time.sleep(0.5)
    return None


def drain(watch: Watch, workers: list[procs.Worker], timeout: float) -> tuple[bool, float]:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        changes, bookings = watch.pending()
        if changes == bookings == watch.outbound_waiting() == 0:
            return True, time.monotonic() - began
        if not any(worker.alive() for worker in workers):
            break
        time.sleep(1.0)
    return False, time.monotonic() - began


def run(
    workers: int, args: argparse.Namespace, fleet: list[fc.Room], storage: Path, first_day: date
) -> RunFigures:
    """One run from scratch with `workers` workers; every process and database it started
    is stopped and dropped when it ends, however it ends."""
    figures = RunFigures(workers)
    folder = procs.WORK / f"fleet-run-{datetime.now(UTC):%Y%m%dT%H%M%S}-w{workers}"
    folder.mkdir(parents=True)
    figures.logs = str(folder)
    copy = folder / "storage"
    with ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, copy, True)
        shutil.copytree(storage, copy, symlinks=True)
        database_url = stack.enter_context(procs.database(args.postgres_url, args.keep))
        server = stack.enter_context(RadicaleServer(copy, start_timeout=120))
        config = write_config(folder, database_url, server.url, fleet, args.poll_seconds)
        engine = _init(config, database_url, figures)
        stack.callback(engine.dispose)
        ids = item_ids(engine)
        watch = Watch(engine, ids)
        watch.start()
        stack.callback(watch.stop)
        running: list[procs.Worker] = []
        stack.callback(procs.stop_workers, running)
        started = _first_sync(config, engine, fleet, running, args, figures)
        organizers = fc.Organizers(
            server.url,
            {room.name: fc.meetings(room, args.entries, first_day) for room in fleet},
            first_day,
            args.seed,
        )
        stack.callback(organizers.close)
        booker = Booker(config, engine, ids, watch)
        window = _load(organizers, booker, engine, fleet, args, figures)
        log(f"  drain (at most {args.drain_timeout:g} s)")
        figures.drained, figures.drain_s = drain(watch, running, args.drain_timeout)
        assert figures.first_sync_s is not None
        gone = watch.backlog_gone_at(started + figures.first_sync_s)
        figures.answers_sent_s = None if gone is None else gone - started
        procs.stop_workers(running)
        watch.stop()
        figures.worker_exits = [worker.exit_code for worker in running]
        figures.db_bytes["end"] = report.database_bytes(engine)
        report.fill_from_database(figures, engine, *window)
        report.fill_from_watch(figures, watch, booker)
        log("  final check")
        result = check(engine, copy, fleet, ids)
        figures.check_ok, figures.check = result.ok, result.summary()
    return figures


def _init(config: Path, database_url: str, figures: RunFigures) -> Engine:
    """`calsync init`, timed; the bench's own engine on the database it created."""
    began = time.perf_counter()
    done = procs.calsync(config, "init", timeout=1800)
    figures.init_s = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"calsync init failed ({done.returncode}): {done.stderr[-2000:]}")
    engine = create_engine(database_url, pool_size=4)
    figures.db_bytes["after init"] = report.database_bytes(engine)
    return engine


def _first_sync(
    config: Path,
    engine: Engine,
    fleet: list[fc.Room],
    running: list[procs.Worker],
    args: argparse.Namespace,
    figures: RunFigures,
) -> float:
    """Start the workers and wait for the fleet's first synchronization; when they started."""
    extra = shlex.split(args.worker_args)
    started = time.monotonic()
    for number in range(1, figures.workers + 1):
        log_path = config.parent / f"worker-{number}.log"
        running.append(procs.start_worker(config, log_path, extra))
    log(f"[{figures.workers} worker(s)] started; first synchronization of the fleet")
    figures.first_sync_s = wait_first_sync(engine, len(fleet), running, args.first_sync_timeout)
    if figures.first_sync_s is None:
        raise RuntimeError(f"the fleet's first synchronization did not end; see {config.parent}")
    figures.answers_queued = report.count_events(engine, "respond")
    figures.db_bytes["after first sync"] = report.database_bytes(engine)
    log(f"  done in {figures.first_sync_s:.1f} s; {figures.answers_queued} answers queued")
    return started


def _load(
    organizers: fc.Organizers,
    booker: Booker,
    engine: Engine,
    fleet: list[fc.Room],
    args: argparse.Namespace,
    figures: RunFigures,
) -> tuple[datetime, datetime]:
    """Run the load; its window, for what the database says happened in it."""
    plan = plan_load(fleet, args)
    rows_before = report.row_counts(engine)
    figures.db_bytes["load start"] = report.database_bytes(engine)
    window_start, began = datetime.now(UTC), time.monotonic()
    log(f"  load: {len(plan)} steps over {args.minutes} x {args.minute_seconds:g} s")
    span = args.minutes * args.minute_seconds
    figures.change_failures = run_load(plan, span, organizers, booker, booker.watch)
    window_end = datetime.now(UTC)
    figures.load_s = time.monotonic() - began
    figures.db_bytes["load end"] = report.database_bytes(engine)
    figures.rows_added = report.rows_added(rows_before, report.row_counts(engine))
    return window_start, window_end


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--rooms", type=int, default=500)
    add("--entries", type=int, default=200, help="meetings per room calendar")
    add("--minutes", type=int, default=10, help="minutes of load")
    add("--minute-seconds", type=float, default=60.0, help="the length of a minute of load")
    add("--workers", default="1,2", help="worker counts, one run each")
    add("--poll-seconds", type=float, default=60.0, help="calsync's poll interval")
    add("--change-share", type=float, default=0.05, help="rooms changed on the server a minute")
    add("--book-share", type=float, default=0.01, help="rooms booked in calsync a minute")
    add("--answered", action="store_true", help="meetings already accepted by the room")
    add("--drain-timeout", type=float, default=1800.0)
    add("--first-sync-timeout", type=float, default=7200.0)
    add("--worker-args", default="", help='more arguments for `calsync worker`: "--interval 2"')
    add("--postgres-url", default=DEFAULT_POSTGRES)
    add("--seed", type=int, default=6)
    add("--keep", action="store_true", help="keep each run's database and calendars")
    add("--json", action="store_true", help="print the figures as JSON too")
    return parser.parse_args()


def _interrupted(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupted)  # clean up as on Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    fleet = fc.rooms(args.rooms)
    first_day = date.today()  # the calendars' dates count from the day they were built
    storage = procs.storage_folder(fleet, args.entries, args.answered, first_day, log)
    results = []
    try:
        for workers in counts:
            results.append(run(workers, args, fleet, storage, first_day))
            report.print_run(results[-1], args)
    except KeyboardInterrupt:
        log("interrupted: workers stopped, databases dropped")
        return 130
    except RuntimeError as exc:  # a run that could not go on; its processes are stopped
        log(f"stopped: {exc}")
        return 1
    finally:
        if results:
            report.print_table(results, args)
        if args.json:
            print(json.dumps([asdict(r) for r in results], indent=2, default=str))
    return 0 if results and all(r.check_ok and r.lost == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
