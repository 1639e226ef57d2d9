"""A CalDAV room calendar alike the Google bench's, and calsync's initial synchronization of it.

`bench/google.py --caldav-alike` compares calsync's own time on the Google path with the
CalDAV path's; the CalDAV calendar of `initial_and_incremental.py` is not alike (its series
expand into up to 52 reservations per calendar object, and its room has accepted every
meeting). This one is made of the Google bench's meetings (`google.meetings`: same seed,
same times, so the same clashes):

- every instance is a calendar object of its own, as Google lists it (`singleEvents`):
  a single meeting is one VEVENT; each instance of a series is one VEVENT at the
  instance's start (the emulator's own expansion, `Series.occurrences`), with a UID of its
  own (`<series UID>-<n>`: a CalDAV collection holds one object per UID);
- the room is invited and has not answered (`PARTSTAT=NEEDS-ACTION;RSVP=TRUE`), so that
  every meeting queues the room's answer (`respond`), as every Google event does;
- DTSTAMP follows the meeting's order (instances share their series'), as the emulator's
  `updated` does, so that the first booked is served first on both paths.

The objects are written straight into Radicale's storage layout, cached under
`bench/.work/alike-n<N>-<yyyymmdd>-v<layout>/` with the item cache Radicale builds on its
first listing. Each synchronization runs against a private copy, warmed up by one full
listing, in the caller's process as the Google bench runs its own: `start(settings)`,
then `request_sync` + `run_now`, timed; `server_s` is the adapter's wait for the answers
(its `counters`). The CalDAV adapter asks for the next multiget while the previous one is
recorded, read and applied, so that time overlaps calsync's own work: `sync_s - server_s`
undercounts calsync's time here, and `waited_s` (`server_waits`) counts only the time the
synchronizing thread waited for Radicale. `cpu_s` is the CPU time of calsync's processes
(`cpu_seconds`): on a shared machine it follows the code, where wall times follow the load.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing import forkserver
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tests.providers.google_emulator.recurrence import Series

from calsync.bootstrap import Services, start
from calsync.config import parse
from calsync.providers import caldav
from calsync.providers.caldav import CalDAVProvider
from calsync.providers.wire import Limits
from calsync.radicale_server import RadicaleServer
from calsync.store.tables import EventRow, ReservationRow
from calsync.worker.runner import request_sync, run_now

WORK = Path(__file__).resolve().parent / ".work"
LAYOUT_VERSION = 1  # bump when what is written changes
ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
ROOM = "bench-room@example.com"
ITEM = "Bench Room"
CALENDAR = "/rooms/bench-room/"
CONNECTION = "bench"
#: The first listing of a new storage builds Radicale's item cache: minutes for 10,000s.
SLOW = Limits(deadline_seconds=1800)

VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


# --- the calendar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """One object of the alike calendar: a single meeting, or one instance of a series."""

    uid: str
    start: datetime  # aware
    end: datetime
    summary: str
    organizer: str
    booked: datetime  # DTSTAMP, UTC

    @property
    def file_name(self) -> str:
        return f"{self.uid.split('@')[0]}.ics"


def instances(bodies: list[dict[str, Any]]) -> list[Instance]:
    """Each Google event body as the instances Google lists for it, in the same order."""
    found = []
    for index, body in enumerate(bodies):
        booked = datetime(2026, 1, 1, 8, tzinfo=UTC) + timedelta(minutes=index)
        uid, organizer = body["iCalUID"], body["organizer"]["email"]
        if not body.get("recurrence"):
            start = datetime.fromisoformat(body["start"]["dateTime"])
            end = datetime.fromisoformat(body["end"]["dateTime"])
            found.append(Instance(uid, start, end, body["summary"], organizer, booked))
            continue
        for n, occurrence in enumerate(Series(body, BERLIN).occurrences()):
            assert isinstance(occurrence.start, datetime)
            assert isinstance(occurrence.end, datetime)
            series_uid = uid.replace("@", f"-{n + 1}@")
            found.append(
                Instance(
                    series_uid, occurrence.start, occurrence.end, body["summary"], organizer, booked
                )
            )
    return found


def ics(instance: Instance) -> bytes:
    organizer = instance.organizer
    start, end = instance.start.astimezone(BERLIN), instance.end.astimezone(BERLIN)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Calendar App//EN\r\n"
        f"{VTIMEZONE}BEGIN:VEVENT\r\nUID:{instance.uid}\r\n"
        f"DTSTAMP:{instance.booked:%Y%m%dT%H%M%S}Z\r\nSEQUENCE:0\r\n"
        f"DTSTART;TZID={ZONE}:{start:%Y%m%dT%H%M%S}\r\nDTEND;TZID={ZONE}:{end:%Y%m%dT%H%M%S}\r\n"
        f"SUMMARY:{instance.summary}\r\n"
        f"ORGANIZER;CN={organizer.split('@')[0].title()}:mailto:{organizer}\r\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED:mailto:{organizer}\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={ITEM}:mailto:{ROOM}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def write_storage(folder: Path, objects: list[Instance]) -> None:
    """Radicale's multifilesystem layout: `collection-root/<path>/<name>.ics` and props."""
    collection = folder / "collection-root" / CALENDAR.strip("/")
    collection.mkdir(parents=True)
    props = {"tag": "VCALENDAR", "D:displayname": ITEM}
    (collection / ".Radicale.props").write_text(json.dumps(props, sort_keys=True))
    for instance in objects:
        (collection / instance.file_name).write_bytes(ics(instance))


def storage_folder(bodies: list[dict[str, Any]], today: date, log: Any) -> Path:
    """The cached storage of these meetings (made on `today`), built and warmed if missing."""
    folder = WORK / f"alike-n{len(bodies)}-{today:%Y%m%d}-v{LAYOUT_VERSION}"
    if not folder.exists():
        began = time.perf_counter()
        objects = instances(bodies)
        scratch = WORK / f"building-{uuid.uuid4().hex[:8]}"
        write_storage(scratch, objects)
        scratch.rename(folder)
        log(f"CalDAV alike: {len(objects)} objects written in {time.perf_counter() - began:.1f} s")
    marker = folder / ".warm"
    if not marker.exists():
        with RadicaleServer(folder, start_timeout=60) as server:
            seconds, _ = warm_up(server.url)
        log(f"CalDAV alike: Radicale's first listing (builds its item cache) {seconds:.1f} s")
        marker.write_text(f"{seconds:.3f}\n")
    return folder


def warm_up(url: str) -> tuple[float, int]:
    """One full listing (sync-collection and multigets); its seconds and object count."""
    began = time.perf_counter()
    with CalDAVProvider(url, timeout=1800, limits=SLOW) as provider:
        listed = len(provider.fetch_changes(CALENDAR, None).changes)
    return time.perf_counter() - began, listed


@contextmanager
def serving(storage: Path, label: str, log: Any) -> Iterator[RadicaleServer]:
    """Radicale on a private copy of `storage`, warmed up."""
    copy = WORK / f"alike-run-{uuid.uuid4().hex[:8]}-{label}"
    shutil.copytree(storage, copy, symlinks=True)
    try:
        with RadicaleServer(copy, start_timeout=60) as server:
            seconds, listed = warm_up(server.url)
            log(f"[caldav-alike {label}] Radicale warm-up: {seconds:.2f} s for {listed} objects")
            yield server
    finally:
        shutil.rmtree(copy, ignore_errors=True)


# --- calsync --------------------------------------------------------------------------------


@dataclass
class Figures:
    """calsync's initial synchronization of the alike calendar."""

    backend: str
    sync_s: float  # request_sync + run_now, wall
    server_s: float  # of which the adapter waited for Radicale's answers
    requests: int
    calendar_items: int
    error: str = ""
    reservations: dict[str, int] = field(default_factory=dict)
    answers_queued: int = 0  # the room's `respond` events
    cpu_s: float = 0.0  # CPU time of calsync's processes (`cpu_seconds`) during it
    waited_s: float = 0.0  # of sync_s, the synchronizing thread waited for answers

    @property
    def own_s(self) -> float:
        return self.sync_s - self.server_s

    @property
    def own_unwaited_s(self) -> float:
        """The synchronization's time less its thread's waits for Radicale (`server_waits`)."""
        return self.sync_s - self.waited_s

    @property
    def reservations_created(self) -> int:
        return sum(self.reservations.values())


def settings(database_url: str, dav_url: str) -> Any:
    return parse(
        {
            "database": {"url": database_url},
            "connections": {CONNECTION: {"kind": "caldav", "url": dav_url, "timeout": 300}},
            "items": [
                {
                    "name": ITEM,
                    "time_zone": ZONE,
                    "binding": {
                        "connection": CONNECTION,
                        "calendar": CALENDAR,
                        "room_address": ROOM,
                    },
                }
            ],
        }
    )


def initial_sync(database_url: str, dav_url: str) -> Figures:
    """`start(settings)`, then one initial synchronization, timed as the Google bench's."""
    services = start(settings(database_url, dav_url))
    try:
        provider = services.provider(CONNECTION)
        assert isinstance(provider, CalDAVProvider)
        before, cpu = provider.counters, cpu_seconds()
        began = time.perf_counter()
        with server_waits() as waited:
            result = run_now(services, request_sync(services, ITEM))
        wall = time.perf_counter() - began
        cpu = cpu_seconds(settle=True) - cpu
        traffic = provider.counters - before
        sync = result.synchronization
        return Figures(
            make_url(database_url).get_backend_name(),
            wall,
            traffic.server_seconds,
            traffic.requests,
            sync.calendar_items if sync else 0,
            result.error,
            *_counts(services),
            cpu,
            waited.seconds,
        )
    finally:
        services.close()


def _counts(services: Services) -> tuple[dict[str, int], int]:
    """Reservations by status, and the room's answers queued."""
    with services.engine.connect() as connection:
        by_status = connection.execute(
            select(ReservationRow.status, func.count()).group_by(ReservationRow.status)
        )
        reservations = {str(status): int(n) for status, n in by_status}
        answers = connection.execute(
            select(func.count()).select_from(EventRow).where(EventRow.action == "respond")
        ).scalar_one()
    return reservations, int(answers)


def cpu_seconds(settle: bool = False) -> float:
    """CPU time (user and system) of this process, of the readers' fork server and of the
    workers it forked that have ended: calsync's on either path, whatever else the machine
    runs. `settle`: first give the fork server a moment to reap the workers just shut down
    (their time counts once reaped)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server:
        if settle:
            time.sleep(0.5)
        total += _process_times(server)
    return total


def _process_times(pid: int) -> float:
    """utime + stime + cutime + cstime of a process (proc(5)), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Waited:
    seconds: float = 0.0


@contextmanager
def server_waits() -> Iterator[Waited]:
    """Counts the time the synchronizing thread waits for Radicale: its sync-collection
    REPORT, and each calendar-multiget whose answer is not in yet when its turn comes.

    The adapter asks for the next multiget while the last one is recorded, read and
    applied, so the time its requests are under way (`counters.server_seconds`) overlaps
    calsync's own work; Google's pages are asked one after the other, so there the two
    are the same. Measuring only: the adapter is patched in this process alone."""
    waited = Waited()
    listing = CalDAVProvider._sync_collection

    def timed_listing(provider: CalDAVProvider, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return listing(provider, *args)
        finally:
            waited.seconds += time.perf_counter() - began

    class Ahead(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return _Awaited(super().submit(fn, *args, **kwargs), waited)

    with (
        patch.object(CalDAVProvider, "_sync_collection", timed_listing),
        patch.object(caldav, "ThreadPoolExecutor", Ahead),
    ):
        yield waited


@dataclass
class _Awaited:
    """A multiget asked ahead; `result` counts the wait for it."""

    future: Future[Any]
    waited: Waited

    def result(self) -> Any:
        began = time.perf_counter()
        try:
            return self.future.result()
        finally:
            self.waited.seconds += time.perf_counter() - began
