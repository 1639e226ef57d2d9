"""Benchmark: calsync's initial and incremental synchronization of one big Google room calendar.

    PYTHONPATH=src .venv/bin/python bench/google.py [--events 10000]
        [--backends sqlite,postgresql] [--postgres-url URL] [--small 1000]
        [--caldav-entries 2000] [--json]

1. Starts the Google Calendar emulator (tests/providers/google_emulator) in this process
   and puts N events straight into one room calendar (`put_event`, before any timing):
   90% single meetings over the next year, business days 08:00-18:00 Europe/Berlin,
   10% series with COUNT (half daily on weekdays, COUNT=5; half weekly, COUNT=10). Every
   event invites the room as a resource that has not answered (`needsAction`).
2. For each backend, into a throw-away database (a SQLite file, or a PostgreSQL database
   created and dropped): the initial synchronization, then 10 changes in the emulator
   (70% moved by an hour, 30% deleted) and an incremental synchronization, then 100 more
   and another one. Each goes through the product's path (`start(settings)` once, then
   `request_sync` + `run_now`, as `calsync sync`); the room's answers are left queued (no
   worker runs). Each backend has an emulator of its own, filled and changed alike.
3. For each synchronization: `sync s`, the wall time of `request_sync` + `run_now`;
   `server s`, the time the adapter waited for the API's answers (its `counters`: from
   sending each request to having read its whole answer, summed, token requests apart);
   `emulator s`, the emulator's own handling of those requests (routing, listing,
   rendering JSON; not HTTP nor gzip), summed; requests and bytes received (the
   adapter's counters, bytes as transferred: the emulator gzips); events listed (the
   synchronization's calendar items, one per event or instance) and reservations by
   status after it. `own s` = `sync s` - `server s` is calsync's part.
4. With --small M (default 1,000; 0 skips), the same on SQLite for a calendar of M events,
   to show that an incremental synchronization's request count does not grow with N.
5. With --caldav-entries K (default 0: skipped), runs `bench/initial_and_incremental.py
   --entries K --backends sqlite --no-vdirsyncer --repeat 1 --json` and compares calsync's
   own time per calendar item and per reservation in the initial synchronization. That
   calendar is not alike: its series expand into many reservations per calendar item and
   its room has accepted.
6. With --caldav-alike M (default 0: skipped), the like-for-like comparison: for each
   backend, the initial synchronization of M of these meetings from the emulator, then of
   the same M meetings served by Radicale as a CalDAV calendar built alike
   (`bench/caldav_alike.py`: each instance an object of its own, the room invited and not
   yet answered), --alike-runs times in turn, each into a new database; calsync's own time
   (`sync s` - `server s`) per event and per reservation, Google over CalDAV. --events 0
   runs the comparison alone.

The emulator shares the process (and the GIL) with calsync: while calsync waits for an
answer the emulator works, and the other way round, so the split is fair as long as
nothing overlaps; the pool that reads payloads during the listing runs in processes of
its own. Targets: calsync's own time per event within 20% of the CalDAV path; an
incremental synchronization's request count independent of the calendar's size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from subprocess import PIPE
from typing import Any
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# This file is named like Google's `google` namespace package: with its folder first on
# sys.path, `import google.auth` would find this script. The repository root instead, for
# `tests.providers.google_emulator`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))

from bench import caldav_alike  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from tests.providers.google_emulator import GoogleCalendarEmulator  # noqa: E402
from tests.providers.google_emulator.server import HttpAnswer, HttpRequest  # noqa: E402

from calsync.bootstrap import Services, start  # noqa: E402
from calsync.config import parse  # noqa: E402
from calsync.providers.google import GoogleCalendarProvider  # noqa: E402
from calsync.providers.wire import TrafficCounters  # noqa: E402
from calsync.store.tables import EventRow, ReservationRow  # noqa: E402
from calsync.worker.runner import request_sync, run_now  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROOM = "bench-room@resource.calendar.google.com"
SUBJECT = "admin@example.com"
ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
ITEM = "Bench Room"
CONNECTION = "workspace"
KEY_ENV = "CALSYNC_BENCH_GOOGLE_KEY"
SERIES_SHARE = 10  # one event in ten is a series
MOVE_SHARE = 0.7  # of the changes, the rest are deletions
ROUNDS = (10, 100)
# 100 pages of 250 (the defaults) hold 25,000 events, instances included: a bigger room
# calendar would fail the listing, so the bench allows more pages.
MAX_SYNC_ROUNDS = 1000
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
TOPICS = ("Planning", "1:1", "Design review", "Sales sync", "Interview", "Retro", "Demo")


# --- the calendar ---------------------------------------------------------------------------


def meetings(count: int, today: date, seed: int = 20261) -> list[dict[str, Any]]:
    """N event bodies of someone else's meetings in the room, deterministic for (N, today)."""
    rng = random.Random(seed)
    return [_meeting(index, rng, today) for index in range(count)]


def _meeting(index: int, rng: random.Random, today: date) -> dict[str, Any]:
    series = index % SERIES_SHARE == SERIES_SHARE - 1
    day = _weekday(today + timedelta(days=rng.randint(1, 60 if series else 364)))
    start = datetime.combine(day, clock_time(rng.randint(8, 16), rng.choice((0, 30))), BERLIN)
    end = start + timedelta(minutes=rng.choice((30, 30, 60, 60, 90)))
    organizer = f"{rng.choice(PEOPLE)}@example.com"
    body: dict[str, Any] = {
        "iCalUID": f"bench-{'series' if series else 'single'}-{index:06d}@example.com",
        "summary": f"{rng.choice(TOPICS)} #{index}",
        "start": {"dateTime": start.isoformat(), "timeZone": ZONE},
        "end": {"dateTime": end.isoformat(), "timeZone": ZONE},
        "organizer": {"email": organizer},
        "attendees": [
            {"email": organizer, "responseStatus": "accepted", "organizer": True},
            {"email": ROOM, "displayName": ITEM, "resource": True, "responseStatus": "needsAction"},
        ],
    }
    if series:
        daily = index % (2 * SERIES_SHARE) == SERIES_SHARE - 1
        rule = "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=5" if daily else "FREQ=WEEKLY;COUNT=10"
        body["recurrence"] = [f"RRULE:{rule}"]
    return body


def _weekday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


def moved(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a patch moving the event (a series: all of it) an hour later."""
    fields = {}
    for edge in ("start", "end"):
        later = datetime.fromisoformat(body[edge]["dateTime"]) + timedelta(hours=1)
        fields[edge] = {"dateTime": later.isoformat(), "timeZone": ZONE}
    return fields


class TimedEmulator(GoogleCalendarEmulator):
    """The emulator, adding up its own handling time of each request (`handling_seconds`)."""

    def __init__(self) -> None:
        self.handling_seconds = 0.0
        super().__init__()

    def _serve(self, request: HttpRequest) -> HttpAnswer:
        began = time.perf_counter()
        try:
            return super()._serve(request)
        finally:
            self.handling_seconds += time.perf_counter() - began

    def reset_counters(self) -> None:
        super().reset_counters()
        self.handling_seconds = 0.0


@dataclass
class Calendar:
    """The room calendar in the emulator, with what the bench needs to change it."""

    emulator: TimedEmulator
    bodies: list[dict[str, Any]]
    ids: list[str]
    fill_s: float
    untouched: list[int] = field(default_factory=list)  # event indices, shuffled (seeded)

    def __post_init__(self) -> None:
        self.untouched = random.Random(7).sample(range(len(self.ids)), len(self.ids))

    def change_plan(self) -> dict[int, list[int]]:
        """For each round, events not changed before (singles and series mixed, seeded)."""
        plan = {}
        for size in ROUNDS:
            plan[size], self.untouched = self.untouched[:size], self.untouched[size:]
        return plan

    def change(self, indices: list[int]) -> tuple[int, int]:
        """Move the first MOVE_SHARE of `indices` by an hour, delete the rest; both counts."""
        moves = round(len(indices) * MOVE_SHARE)
        for index in indices[:moves]:
            self.emulator.patch_event(ROOM, self.ids[index], moved(self.bodies[index]))
        for index in indices[moves:]:
            self.emulator.delete_event(ROOM, self.ids[index])
        return moves, len(indices) - moves


@contextmanager
def room_calendar(events: int, today: date | None = None) -> Iterator[Calendar]:
    with TimedEmulator() as emulator:
        emulator.add_calendar(ROOM, time_zone=ZONE, summary=ITEM)
        bodies = meetings(events, today or datetime.now(BERLIN).date())
        began = time.perf_counter()
        ids = [emulator.put_event(ROOM, body)["id"] for body in bodies]
        calendar = Calendar(emulator, bodies, ids, time.perf_counter() - began)
        log(f"{events} events put into the emulator in {calendar.fill_s:.1f} s")
        yield calendar


# --- calsync --------------------------------------------------------------------------------


@dataclass
class Phase:
    """One measured synchronization."""

    sync_s: float  # request_sync + run_now, wall
    server_s: float  # of which waiting for the API's answers (adapter, summed over requests)
    emulator_s: float  # the emulator's own handling of the requests (token requests included)
    requests: int  # API requests (the adapter's count; token requests apart)
    token_requests: int
    bytes_received: int
    bytes_sent: int
    events_listed: int  # the synchronization's calendar items
    mode: str
    error: str = ""
    reservations: dict[str, int] = field(default_factory=dict)
    answers_queued: int = 0  # the room's `respond` events in the database after it

    @property
    def own_s(self) -> float:
        return self.sync_s - self.server_s

    @property
    def reservations_created(self) -> int:
        return sum(self.reservations.values())


@dataclass
class BackendResult:
    backend: str
    events: int
    init_s: float  # start(settings): schema, item, provider (as `calsync init` and start-up)
    initial: Phase
    incremental: dict[int, Phase]

    @property
    def reservations_created(self) -> int:
        return sum(self.initial.reservations.values())


def settings(database_url: str, api_url: str) -> Any:
    return parse(
        {
            "database": {"url": database_url},
            "connections": {
                CONNECTION: {
                    "kind": "google",
                    "subject": SUBJECT,
                    "service_account_env": KEY_ENV,
                    "api_url": api_url,
                    "timeout": 300,
                    "max_sync_rounds": MAX_SYNC_ROUNDS,
                }
            },
            "items": [
                {
                    "name": ITEM,
                    "time_zone": ZONE,
                    "binding": {"connection": CONNECTION, "calendar": ROOM, "room_address": ROOM},
                }
            ],
        }
    )


def synchronize(services: Services, emulator: TimedEmulator | None) -> Phase:
    """One synchronization of the item, measured (the emulator's figures where it runs in
    this process)."""
    provider = services.provider(CONNECTION)
    assert isinstance(provider, GoogleCalendarProvider)
    before = _copy(provider.counters)
    if emulator is not None:
        emulator.reset_counters()
    began = time.perf_counter()
    result = run_now(services, request_sync(services, ITEM))
    wall = time.perf_counter() - began
    traffic = provider.counters - before
    sync = result.synchronization
    return Phase(
        sync_s=wall,
        server_s=traffic.server_seconds,
        emulator_s=emulator.handling_seconds if emulator else 0.0,
        requests=traffic.requests,
        token_requests=emulator.token_requests if emulator else 0,
        bytes_received=traffic.bytes_received,
        bytes_sent=traffic.bytes_sent,
        events_listed=sync.calendar_items if sync else 0,
        mode=sync.mode.value if sync else "",
        error=result.error,
        reservations=reservation_counts(services),
        answers_queued=answers_queued(services),
    )


def _copy(counters: TrafficCounters) -> TrafficCounters:
    return counters + TrafficCounters()


def reservation_counts(services: Services) -> dict[str, int]:
    """Reservations by status."""
    with services.engine.connect() as connection:
        rows = connection.execute(
            select(ReservationRow.status, func.count()).group_by(ReservationRow.status)
        )
        return {str(status): int(n) for status, n in rows}


def answers_queued(services: Services) -> int:
    """The room's answers (`respond` events) in the database."""
    with services.engine.connect() as connection:
        query = select(func.count()).select_from(EventRow).where(EventRow.action == "respond")
        return int(connection.execute(query).scalar_one())


def bench_backend(backend: str, calendar: Calendar, args: argparse.Namespace) -> BackendResult:
    """The initial synchronization into a new database, then the rounds of changes."""
    emulator = calendar.emulator
    os.environ[KEY_ENV] = json.dumps(emulator.service_account_info("example.com"))
    events = len(calendar.bodies)
    with database(backend, args.postgres_url) as url:
        began = time.perf_counter()
        services = start(settings(url, emulator.api_url))
        init_s = time.perf_counter() - began
        try:
            initial = synchronize(services, emulator)
            log(f"[{backend} N={events}] initial: {describe(initial)}")
            incremental = {}
            for size, indices in calendar.change_plan().items():
                moves, deletions = calendar.change(indices)
                incremental[size] = phase = synchronize(services, emulator)
                log(
                    f"[{backend} N={events}] {moves} moved + {deletions} deleted: {describe(phase)}"
                )
        finally:
            services.close()
    return BackendResult(backend, events, init_s, initial, incremental)


@contextmanager
def database(backend: str, postgres_url: str) -> Iterator[str]:
    """A throw-away database URL: a temporary SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="calsync-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'calsync.db'}"
        return
    name = f"calsync_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def postgres_reachable(postgres_url: str) -> str:
    """An empty string if the server answers, else why not."""
    try:
        engine = create_engine(postgres_url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return ""


# --- the CalDAV path, for comparison --------------------------------------------------------


@dataclass
class CaldavFigures:
    entries: int
    sync_s: float
    server_s: float
    calendar_items: int
    reservations: int
    error: str = ""

    @property
    def own_s(self) -> float:
        return self.sync_s - self.server_s


def caldav_figures(entries: int) -> CaldavFigures:
    """calsync's initial synchronization of `entries` served by Radicale (SQLite)."""
    argv = [sys.executable, str(BENCH / "initial_and_incremental.py"), "--entries", str(entries)]
    argv += ["--backends", "sqlite", "--no-vdirsyncer", "--repeat", "1", "--json"]
    log(f"CalDAV comparison: {' '.join(argv[1:])}")
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        return CaldavFigures(entries, 0.0, 0.0, 0, 0, error=done.stderr[-2000:])
    initial = json.loads(done.stdout)["backends"][0]["initial"]
    return CaldavFigures(
        entries,
        initial["sync_s"],
        initial["server_s"],
        initial["calendar_items"],
        sum(initial["reservations"].values()),
        initial.get("error", ""),
    )


# --- like for like: the same meetings as a CalDAV calendar ---------------------------------


@dataclass
class AlikeRun:
    """One turn of the comparison on one backend: Google's initial synchronization of the
    meetings, then CalDAV's of the same meetings built alike; `google_cpu_s`: the CPU
    time calsync's processes took during Google's."""

    backend: str
    meetings: int
    google: Phase
    google_cpu_s: float
    caldav: caldav_alike.Figures

    def ratio(self, per: str) -> float:
        """Google's own time over CalDAV's per calendar item: its time less the server's
        ("item"), less the waits for the server ("unwaited": on Google the same), in CPU
        time ("cpu"); or its time less the server's per reservation ("reservation")."""
        google, caldav = self.google, self.caldav
        if per == "cpu":
            return (self.google_cpu_s / google.events_listed) / (
                caldav.cpu_s / caldav.calendar_items
            )
        if per == "item":
            return (google.own_s / google.events_listed) / (caldav.own_s / caldav.calendar_items)
        if per == "unwaited":
            return (google.own_s / google.events_listed) / (
                caldav.own_unwaited_s / caldav.calendar_items
            )
        return (google.own_s / google.reservations_created) / (
            caldav.own_s / caldav.reservations_created
        )


def alike_runs(meetings_count: int, args: argparse.Namespace) -> list[AlikeRun]:
    """For each backend, Google then CalDAV, `args.alike_runs` times, each into a new
    database. Each synchronization runs in a fresh interpreter (`--alike-child`), so that
    neither inherits the other's imports or readers' fork server, and each server in a
    process of its own (the emulator: `--alike-emulator`), as Radicale runs, so that
    neither shares calsync's interpreter. Both calendars hold the meetings of one day."""
    today = datetime.now(BERLIN).date()
    storage = caldav_alike.storage_folder(meetings(meetings_count, today), today, log)
    runs = []
    for backend in args.backends:
        why = postgres_reachable(args.postgres_url) if backend == "postgresql" else ""
        if why:
            log(f"postgresql: skipped, {args.postgres_url} is not reachable ({why})")
            continue
        for turn in range(args.alike_runs):
            with (
                emulator_process(meetings_count, today) as api_url,
                database(backend, args.postgres_url) as url,
            ):
                google = alike_child("google", meetings_count, today, url, api_url)
            with (
                caldav_alike.serving(storage, backend, log) as server,
                database(backend, args.postgres_url) as url,
            ):
                caldav = alike_child("caldav", meetings_count, today, url, server.url)
            run = AlikeRun(
                backend,
                meetings_count,
                Phase(**google["phase"]),
                google["cpu_s"],
                caldav_alike.Figures(**caldav),
            )
            log(f"[alike {backend} {turn + 1}] {alike_line(run)}")
            runs.append(run)
    return runs


@contextmanager
def emulator_process(meetings_count: int, today: date) -> Iterator[str]:
    """The emulator holding the meetings, in a process of its own; yields its URL (its
    service account key is in KEY_ENV)."""
    argv = [sys.executable, __file__, "--alike-emulator", "--caldav-alike", str(meetings_count)]
    argv += ["--today", today.isoformat()]
    with subprocess.Popen(argv, stdin=PIPE, stdout=PIPE, text=True, cwd=ROOT) as served:
        assert served.stdin is not None
        assert served.stdout is not None
        try:
            ready = json.loads(served.stdout.readline())
            os.environ[KEY_ENV] = json.dumps(ready["key"])
            yield ready["api_url"]
        finally:
            served.stdin.close()  # it stops when its input ends
            served.wait(timeout=60)


def alike_emulator_main(args: argparse.Namespace) -> None:
    """In the emulator's process: fill the calendar, say where it is, serve until stdin ends."""
    with room_calendar(args.caldav_alike, date.fromisoformat(args.today)) as calendar:
        key = calendar.emulator.service_account_info("example.com")
        print(json.dumps({"api_url": calendar.emulator.api_url, "key": key}), flush=True)
        sys.stdin.read()


def alike_child(
    side: str, meetings_count: int, today: date, database_url: str, url: str
) -> dict[str, Any]:
    """One side's initial synchronization in a fresh interpreter; its figures."""
    argv = [sys.executable, __file__, "--alike-child", side, "--caldav-alike", str(meetings_count)]
    argv += ["--today", today.isoformat(), "--database-url", database_url, "--server-url", url]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{side} synchronization failed ({done.returncode}):\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def alike_child_main(args: argparse.Namespace) -> None:
    """In the child: synchronize once, print the figures."""
    if args.alike_child == "caldav":
        print(json.dumps(asdict(caldav_alike.initial_sync(args.database_url, args.server_url))))
        return
    services = start(settings(args.database_url, args.server_url))
    try:
        began = caldav_alike.cpu_seconds()
        phase = synchronize(services, None)
        cpu_s = caldav_alike.cpu_seconds(settle=True) - began
        print(json.dumps({"phase": asdict(phase), "cpu_s": cpu_s}))
    finally:
        services.close()


def alike_line(run: AlikeRun) -> str:
    google, caldav = run.google, run.caldav
    failed = f"FAILED google: {google.error} " if google.error else ""
    failed += f"FAILED caldav: {caldav.error} " if caldav.error else ""
    return failed + (
        f"Google: sync {google.sync_s:.2f} s, server {google.server_s:.2f} s, calsync "
        f"{google.own_s:.2f} s, {google.events_listed} items, {google.reservations_created} "
        f"reservations {google.reservations}, {google.answers_queued} answers queued; "
        f"per item {_ms(google.own_s, google.events_listed)} | CalDAV: sync "
        f"{caldav.sync_s:.2f} s, server {caldav.server_s:.2f} s (waited for "
        f"{caldav.waited_s:.2f} s), calsync {caldav.own_s:.2f} s, "
        f"{caldav.calendar_items} items, {caldav.reservations_created} reservations "
        f"{caldav.reservations}, {caldav.answers_queued} answers queued; per item "
        f"{_ms(caldav.own_s, caldav.calendar_items)} | CPU: Google {run.google_cpu_s:.2f} s, "
        f"CalDAV {caldav.cpu_s:.2f} s | Google / CalDAV per item {run.ratio('item'):.2f}x, "
        f"per reservation {run.ratio('reservation'):.2f}x, CPU per item {run.ratio('cpu'):.2f}x"
    )


def alike_table(runs: list[AlikeRun]) -> str:
    head = ["backend", "run", "M", "items", "Google own s", "ms/item", "CalDAV own s", "ms/item"]
    head += ["own G/C", "CalDAV unwaited s", "ms/item", "unwaited G/C"]
    head += ["Google CPU s", "ms/item", "CalDAV CPU s", "ms/item", "CPU G/C"]
    rows = [head]
    for backend in dict.fromkeys(run.backend for run in runs):
        mine = [run for run in runs if run.backend == backend]
        for turn, run in enumerate(mine, 1):
            google, caldav = run.google, run.caldav
            items = google.events_listed
            rows.append(
                [
                    backend,
                    str(turn),
                    str(run.meetings),
                    str(items) + ("" if items == caldav.calendar_items else " (!)"),
                    f"{google.own_s:.2f}",
                    f"{google.own_s / items * 1e3:.3f}",
                    f"{caldav.own_s:.2f}",
                    f"{caldav.own_s / caldav.calendar_items * 1e3:.3f}",
                    f"{run.ratio('item'):.2f}x",
                    f"{caldav.own_unwaited_s:.2f}",
                    f"{caldav.own_unwaited_s / caldav.calendar_items * 1e3:.3f}",
                    f"{run.ratio('unwaited'):.2f}x",
                    f"{run.google_cpu_s:.2f}",
                    f"{run.google_cpu_s / items * 1e3:.3f}",
                    f"{caldav.cpu_s:.2f}",
                    f"{caldav.cpu_s / caldav.calendar_items * 1e3:.3f}",
                    f"{run.ratio('cpu'):.2f}x",
                ]
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    target = "target: Google / CalDAV <= 1.20x per calendar item"
    return "\n".join([*lines, target])


# --- reporting ------------------------------------------------------------------------------


def describe(phase: Phase) -> str:
    failed = f"FAILED ({phase.error}), " if phase.error else ""
    return failed + (
        f"{phase.mode}, sync {phase.sync_s:.2f} s (server {phase.server_s:.2f} s, emulator "
        f"{phase.emulator_s:.2f} s, calsync {phase.own_s:.2f} s), {phase.requests} requests "
        f"(+{phase.token_requests} token), {phase.bytes_received / 1e3:.1f} KB in, "
        f"{phase.events_listed} events listed, reservations {phase.reservations}"
    )


def table(results: list[BackendResult]) -> str:
    head = ["backend", "N", "initial s", "(server s)", "(emulator s)", "(own s)", "requests"]
    head += ["MB recv", "listed", "reservations"]
    for size in ROUNDS:
        head += [f"incr({size}) s", "(server s)", f"incr({size}) req", "KB recv", "listed"]
    rows = [head] + [_row(result) for result in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _row(result: BackendResult) -> list[str]:
    first = result.initial
    row = [
        result.backend,
        str(result.events),
        f"{first.sync_s:.2f}" + (" FAIL" if first.error else ""),
        f"{first.server_s:.2f}",
        f"{first.emulator_s:.2f}",
        f"{first.own_s:.2f}",
        str(first.requests),
        f"{first.bytes_received / 1e6:.2f}",
        str(first.events_listed),
        str(result.reservations_created),
    ]
    for size in ROUNDS:
        phase = result.incremental[size]
        row += [f"{phase.sync_s:.2f}" + (" FAIL" if phase.error else ""), f"{phase.server_s:.2f}"]
        row += [str(phase.requests), f"{phase.bytes_received / 1e3:.1f}", str(phase.events_listed)]
    return row


def summary(results: list[BackendResult], caldav: CaldavFigures | None) -> str:
    lines = []
    for result in results:
        first = result.initial
        lines.append(
            f"{result.backend} N={result.events}: start(settings) {result.init_s:.2f} s; "
            f"initial {first.sync_s:.2f} s = server {first.server_s:.2f} s (emulator "
            f"{first.emulator_s:.2f} s) + calsync {first.own_s:.2f} s; calsync per event "
            f"listed {_ms(first.own_s, first.events_listed)}, per reservation "
            f"{_ms(first.own_s, result.reservations_created)}; reservations {first.reservations}"
        )
        for size, phase in result.incremental.items():
            lines.append(
                f"  incremental({size}): sync {phase.sync_s:.2f} s, server {phase.server_s:.2f} s,"
                f" calsync {phase.own_s:.2f} s, {phase.requests} requests"
            )
    lines += growth(results)
    if caldav is not None:
        lines += comparison(results, caldav)
    return "\n".join(lines)


def growth(results: list[BackendResult]) -> list[str]:
    """Whether an incremental synchronization's request count grows with the calendar."""
    sqlite = sorted((r for r in results if r.backend == "sqlite"), key=lambda r: r.events)
    if len(sqlite) < 2:
        return []
    small, big = sqlite[0], sqlite[-1]
    lines = []
    for size in ROUNDS:
        few, many = small.incremental[size].requests, big.incremental[size].requests
        verdict = "does not grow" if many <= few else "GROWS"
        lines.append(
            f"incremental({size}) requests: N={small.events} {few}, N={big.events} {many}: "
            f"{verdict} with the calendar"
        )
    return lines


def comparison(results: list[BackendResult], caldav: CaldavFigures) -> list[str]:
    if caldav.error:
        return [f"CalDAV comparison FAILED: {caldav.error}"]
    google = max((r for r in results if r.backend == "sqlite"), key=lambda r: r.events)
    first = google.initial
    per_item = (first.own_s / first.events_listed) / (caldav.own_s / caldav.calendar_items)
    per_reservation = (first.own_s / google.reservations_created) / (
        caldav.own_s / caldav.reservations
    )
    return [
        f"CalDAV on Radicale (sqlite, {caldav.entries} entries): initial sync "
        f"{caldav.sync_s:.2f} s, server {caldav.server_s:.2f} s, calsync {caldav.own_s:.2f} s; "
        f"{caldav.calendar_items} calendar items, {caldav.reservations} reservations; calsync "
        f"per calendar item {_ms(caldav.own_s, caldav.calendar_items)}, per reservation "
        f"{_ms(caldav.own_s, caldav.reservations)}",
        f"Google / CalDAV, calsync's own time: per calendar item {per_item:.2f}x, per "
        f"reservation {per_reservation:.2f}x (target <= 1.20x)",
    ]


def _ms(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e3:.3f} ms" if count else "n/a"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="calendar size")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="admin connection URL")
    parser.add_argument(
        "--small", type=int, default=1000, help="a second, smaller calendar on SQLite (0: none)"
    )
    parser.add_argument(
        "--caldav-entries", type=int, default=0, help="compare with the CalDAV path (0: none)"
    )
    parser.add_argument(
        "--caldav-alike",
        type=int,
        default=0,
        help="like for like: M meetings from Google and as a CalDAV calendar alike (0: none)",
    )
    parser.add_argument(
        "--alike-runs", type=int, default=2, help="turns of the like-for-like comparison"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    # One side of the like-for-like comparison, run by the bench in a fresh interpreter.
    parser.add_argument("--alike-child", choices=("google", "caldav"), help=argparse.SUPPRESS)
    parser.add_argument("--alike-emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--today", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--server-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_calendar(events: int, backends: list[str], args: argparse.Namespace) -> list[BackendResult]:
    """Each backend against a calendar of its own, filled alike and changed alike."""
    results = []
    for backend in backends:
        why = postgres_reachable(args.postgres_url) if backend == "postgresql" else ""
        if why:
            log(f"postgresql: skipped, {args.postgres_url} is not reachable ({why})")
            continue
        with room_calendar(events) as calendar:
            results.append(bench_backend(backend, calendar, args))
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.alike_child:
        alike_child_main(args)
        return
    if args.alike_emulator:
        alike_emulator_main(args)
        return
    results = run_calendar(args.events, args.backends, args) if args.events else []
    if args.events and args.small and args.small != args.events:
        results += run_calendar(args.small, ["sqlite"], args)
    caldav = caldav_figures(args.caldav_entries) if args.caldav_entries else None
    alike = alike_runs(args.caldav_alike, args) if args.caldav_alike else []
    if args.json:
        print(json.dumps(_as_json(args, results, caldav, alike), indent=2))
        return
    print(f"calsync Google benchmark: {args.events} events, {machine()}")
    if results:
        print(table(results))
        print(summary(results, caldav))
    if alike:
        print(f"Like for like, {args.caldav_alike} meetings, initial synchronization:")
        print(alike_table(alike))
        print("\n".join(alike_line(run) for run in alike))


def _as_json(
    args: argparse.Namespace,
    results: list[BackendResult],
    caldav: CaldavFigures | None,
    alike: list[AlikeRun],
) -> dict[str, Any]:
    return {
        "events": args.events,
        "machine": machine(),
        "backends": [asdict(r) | {"reservations_created": r.reservations_created} for r in results],
        "caldav": asdict(caldav) if caldav else None,
        "alike": [
            asdict(run)
            | {
                "per_item": run.ratio("item"),
                "per_reservation": run.ratio("reservation"),
                "unwaited_per_item": run.ratio("unwaited"),
                "cpu_per_item": run.ratio("cpu"),
            }
            for run in alike
        ],
    }


if __name__ == "__main__":
    main()
