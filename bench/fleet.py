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
import random
import shlex
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

import fleet_calendar as fc
import fleet_procs as procs
import fleet_report as report
import httpx
from fleet_check import check
from fleet_watch import Watch
from sqlalchemy import Engine, create_engine, func, select

from calsync.radicale_server import RadicaleServer
from calsync.store.tables import CalendarItemRow, EventRow, ItemRow, ReservationRow

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


class Booker:
    """Books rooms in calsync through its CLI, on Saturdays (no organizer books then), so a
    booking never clashes and each one reaches the calendar."""

    def __init__(
        self, config: Path, engine: Engine, item_ids: dict[str, int], watch: Watch
    ) -> None:
        self.config, self.engine, self.item_ids, self.watch = config, engine, item_ids, watch
        self.made: dict[str, int] = {}
        self.serial = 0
        self.failures: list[str] = []
        self.command_s: list[float] = []
        saturday = date.today() + timedelta(days=(5 - date.today().weekday()) % 7 or 7)
        self.first_saturday = saturday

    def book(self, room: fc.Room) -> None:
        try:
            self._book(room)
        except Exception as exc:  # noqa: BLE001 - a failed booking is a figure, not a crash
            self.failures.append(f"{room.name}: {type(exc).__name__}: {exc}")

    def _book(self, room: fc.Room) -> None:
        count = self.made.get(room.name, 0)
        self.made[room.name] = count + 1
        self.serial += 1
        subject = f"fleet booking {self.serial}"
        day = self.first_saturday + timedelta(weeks=count // 5)
        wall = datetime.combine(day, datetime.min.time()) + timedelta(hours=8 + 2 * (count % 5))
        start = wall.replace(tzinfo=ZoneInfo(fc.ZONE)).astimezone(UTC).replace(tzinfo=None)
        began = time.monotonic()
        done = procs.calsync(
            self.config,
            *("reservations", "create", "--item", room.name, "--subject", subject),
            *("--start", start.isoformat(), "--end", (start + timedelta(hours=1)).isoformat()),
            *("--organizer", "facilities@example.com"),
            timeout=300,
        )
        ended = time.monotonic()
        self.command_s.append(ended - began)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()
            self.failures.append(f"{room.name}: exit {done.returncode}: {' / '.join(output[-3:])}")
            return
        with self.engine.connect() as connection:
            table = ReservationRow.__table__
            reservation_id = connection.execute(
                select(table.c.id).where(
                    table.c.item_id == self.item_ids[room.name], table.c.subject == subject
                )
            ).scalar_one()
        self.watch.track_booking(reservation_id, ended)


def plan_load(fleet: list[fc.Room], args: argparse.Namespace) -> list[tuple[float, str, fc.Room]]:
    """(seconds from the start, "change" or "book", room), spread evenly over each minute."""
    rng = random.Random(args.seed)
    changes = max(1, round(len(fleet) * args.change_share))
    bookings = max(1, round(len(fleet) * args.book_share)) if args.book_share > 0 else 0
    plan = []
    for minute in range(args.minutes):
        base = minute * args.minute_seconds
        for kind, count, phase in (("change", changes, 0.5), ("book", bookings, 0.25)):
            for index, room in enumerate(rng.sample(fleet, count)):
                plan.append((base + (index + phase) * args.minute_seconds / count, kind, room))
    return sorted(plan, key=lambda step: step[0])


def run_load(
    plan: list[tuple[float, str, fc.Room]],
    span_s: float,
    organizers: fc.Organizers,
    booker: Booker,
    watch: Watch,
) -> list[str]:
    """Run the plan; the server changes that failed (the server refused or timed out)."""
    failures: list[str] = []
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="booker") as bookings:
        for offset, kind, room in plan:
            time.sleep(max(0.0, began + offset - time.monotonic()))
            if kind == "book":
                bookings.submit(booker.book, room)
                continue
            try:
                change = organizers.change(room, watch.busy(room.name))
            except (httpx.HTTPError, RuntimeError) as exc:
                failures.append(f"{room.name}: {type(exc).__name__}: {exc}")
                continue
            watch.track(change, time.monotonic())
        time.sleep(max(0.0, began + span_s - time.monotonic()))
    return failures


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
        began = time.perf_counter()
        done = procs.calsync(config, "init", timeout=1800)
        figures.init_s = time.perf_counter() - began
        if done.returncode != 0:
            raise RuntimeError(f"calsync init failed ({done.returncode}): {done.stderr[-2000:]}")
        engine = create_engine(database_url, pool_size=4)
        stack.callback(engine.dispose)
        ids = item_ids(engine)
        figures.db_bytes["after init"] = report.database_bytes(engine)
        watch = Watch(engine, ids)
        watch.start()
        stack.callback(watch.stop)
        running: list[procs.Worker] = []
        stack.callback(procs.stop_workers, running)
        extra = shlex.split(args.worker_args)
        started = time.monotonic()
        for number in range(1, workers + 1):
            running.append(procs.start_worker(config, folder / f"worker-{number}.log", extra))
        log(f"[{workers} worker(s)] {len(running)} started; first synchronization of the fleet")
        figures.first_sync_s = wait_first_sync(engine, len(fleet), running, args.first_sync_timeout)
        if figures.first_sync_s is None:
            raise RuntimeError(f"the fleet's first synchronization did not end; logs in {folder}")
        figures.answers_queued = report.count_events(engine, "respond")
        figures.db_bytes["after first sync"] = report.database_bytes(engine)
        log(f"  done in {figures.first_sync_s:.1f} s; {figures.answers_queued} answers queued")

        calendars = {room.name: fc.meetings(room, args.entries, first_day) for room in fleet}
        organizers = fc.Organizers(server.url, calendars, first_day, args.seed)
        stack.callback(organizers.close)
        booker = Booker(config, engine, ids, watch)
        plan = plan_load(fleet, args)
        rows_before = report.row_counts(engine)
        figures.db_bytes["load start"] = report.database_bytes(engine)
        window_start, load_began = datetime.now(UTC), time.monotonic()
        log(f"  load: {len(plan)} steps over {args.minutes} x {args.minute_seconds:g} s")
        figures.change_failures = run_load(
            plan, args.minutes * args.minute_seconds, organizers, booker, watch
        )
        window_end = datetime.now(UTC)
        figures.load_s = time.monotonic() - load_began
        figures.db_bytes["load end"] = report.database_bytes(engine)
        figures.rows_added = report.rows_added(rows_before, report.row_counts(engine))

        log(f"  drain (at most {args.drain_timeout:g} s)")
        figures.drained, figures.drain_s = drain(watch, running, args.drain_timeout)
        gone = watch.backlog_gone_at(started + figures.first_sync_s)
        figures.answers_sent_s = None if gone is None else gone - started
        procs.stop_workers(running)
        watch.stop()
        figures.worker_exits = [worker.exit_code for worker in running]
        figures.db_bytes["end"] = report.database_bytes(engine)
        report.fill_from_database(figures, engine, window_start, window_end)
        report.fill_from_watch(figures, watch, booker)
        log("  final check")
        result = check(engine, copy, fleet, ids)
        figures.check_ok, figures.check = result.ok, result.summary()
    return figures


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
    finally:
        if results:
            report.print_table(results, args)
        if args.json:
            print(json.dumps([asdict(r) for r in results], indent=2, default=str))
    return 0 if results and all(r.check_ok and r.lost == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
