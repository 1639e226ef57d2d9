"""Benchmark: the HTTP API over a large exchange log in PostgreSQL.

    .venv/bin/python bench/api.py [--events 1000000] [--calendar-items 2000000]
        [--items 200] [--days 90] [--error-share 0.03] [--requests 300]
        [--create-seconds 30] [--create-rate 200] [--connections 4]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--database calsync_bench_api] [--keep] [--reuse] [--fill-only]
        [--only reads|booking] [--route NAME-PART ...]

1. The store: a database of its own (dropped first, dropped at the end unless `--keep`;
   `--reuse` keeps a filled one from an earlier `--keep` run), migrated and given the
   items by `calsync init`, then filled inside PostgreSQL (`INSERT ... SELECT` over
   `generate_series`, foreign-key triggers off while filling) through the store's tables:
   `--items` rooms bound to a CalDAV connection nobody answers (no worker runs), spread
   unevenly (a few rooms busy, most quiet); `--events` events over `--days` days, ids in
   time order (55% reads, each with its synchronization, 12% creates, 10% updates, 5%
   deletes, 15% room answers, 3% push notifications), `--error-share` of them in error
   with a provider error, the newest few hundred still new; `--calendar-items` calendar
   items made by the reads (0 to 8 each, in the kinds and statuses a fleet produces),
   and five one-hour reservations a day per room over the same days and the next 30.
   Payloads are of the sizes the worker writes (a REPORT and its multistatus, an
   iCalendar PUT and its answer, the reservation as JSON). Then VACUUM ANALYZE, as
   autovacuum would have done.
2. `calsync serve --no-worker --http-processes N` (`--server-processes`, 1 by default) on
   a loopback port,
   with an admin token and an integration token from `calsync tokens create`.
3. Reads, one request after another on one keep-alive connection (`--requests` each,
   after 20 unmeasured), client-side latency p50/p95/p99: the events list's first page,
   a deep page (a cursor half-way down the log), an event's JSON (random ids), the
   events in error (first page, and a deep page), the calendar items list (first page,
   and a deep page), the workplace items with their synchronization state (the API's
   view of the dashboard's table), and /metrics; then, logged in to the admin pages as a
   browser is (the login form, a session cookie), the dashboard, the events page, the
   events in error and an event's page with its JSON. The dashboard's underlying queries
   (`calsync.store.overview`) are timed in-process as well. `--route` keeps only the
   routes whose name holds the words given; `--only reads|booking` one half.
4. Booking over the API: `wrk` (`apt-get install wrk`) posts reservations for
   `--create-seconds` seconds with `--connections` connections, each request a new hour
   of a room (never a conflict), as an integration would; `wrk` prints throughput and
   latency percentiles. Without `wrk`, an open-loop generator in this process sends
   `--create-rate` requests a second (a request is sent on time whether or not earlier
   ones returned) and reports the same figures.

Targets (the issue "The API and the admin pages"): the events list, the dashboard and an
event's JSON each under 100 ms at p95; booking sustains 200 requests/s with p99 under
50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from calsync.api.pagination import encode
from calsync.store import health, overview

CALSYNC = str(Path(sys.executable).parent / "calsync")
TARGET_READ_P95_MS = 100.0
#: At most this long per read route (the first 20 requests and at least 30 more apart).
BUDGET_SECONDS = 45.0
TARGET_CREATE_RATE = 200.0
TARGET_CREATE_P99_MS = 50.0


# --- the store --------------------------------------------------------------------------


def settings_toml(url: str, items: int) -> str:
    lines = [
        "[database]",
        f'url = "{url}"',
        "",
        "[connections.dav]",
        'kind = "caldav"',
        'url = "http://127.0.0.1:9/"  # nobody answers: no worker runs',
    ]
    for number in range(1, items + 1):
        lines += [
            "",
            "[[items]]",
            f'name = "{room(number)}"',
            'time_zone = "Europe/Berlin"',
            "[items.binding]",
            'connection = "dav"',
            f'calendar = "/rooms/room-{number:03d}/"',
            f'room_address = "room-{number:03d}@example.com"',
        ]
    return "\n".join(lines) + "\n"


def room(number: int) -> str:
    return f"Room {number:03d}"


#: Payloads as the worker stores them, sized like CalDAV's (a few hundred bytes to 1 KB).
_REPORT = (
    "'REPORT /rooms/room-' || lpad(e.item_id::text, 3, '0') || '/ HTTP/1.1' || chr(10) || "
    "'Content-Type: application/xml; charset=utf-8' || chr(10) || 'Depth: 1' || chr(10) || "
    'chr(10) || \'<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token>http://radicale.org/ns/sync/\' '
    "|| md5(e.id::text) || '</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/>"
    "<C:calendar-data/></D:prop></D:sync-collection>'"
)
_MULTISTATUS = (
    "'HTTP/1.1 207 Multi-Status' || chr(10) || 'Content-Type: text/xml; charset=utf-8' || "
    "chr(10) || chr(10) || '<?xml version=''1.0'' encoding=''utf-8''?><multistatus "
    "xmlns=\"DAV:\"><response><href>/rooms/room-' || lpad(e.item_id::text, 3, '0') || '/' || "
    "md5(e.id::text || 'a') || '.ics</href><propstat><prop><getetag>\"' || "
    "md5(e.id::text || 'b') || '\"</getetag></prop><status>HTTP/1.1 200 OK</status>"
    "</propstat></response><sync-token>http://radicale.org/ns/sync/' || "
    "md5(e.id::text || 'c') || '</sync-token></multistatus>'"
)
_ICALENDAR = (
    "'BEGIN:VCALENDAR' || chr(10) || 'VERSION:2.0' || chr(10) || "
    "'PRODID:-//calsync//calsync//EN' || chr(10) || 'BEGIN:VEVENT' || chr(10) || 'UID:' || "
    "md5({key}::text) || '@calsync' || chr(10) || 'DTSTAMP:20261201T080000Z' || chr(10) || "
    "'DTSTART;TZID=Europe/Berlin:20261207T090000' || chr(10) || "
    "'DTEND;TZID=Europe/Berlin:20261207T100000' || chr(10) || 'SUMMARY:Project review ' || "
    "left(md5({key}::text || 's'), 8) || chr(10) || "
    "'ORGANIZER;CN=Frank Example:mailto:frank@example.com' || chr(10) || "
    "'ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED:mailto:room@example.com' || chr(10) || "
    "'ATTENDEE;CN=Alice Example;PARTSTAT=ACCEPTED:mailto:alice@example.com' || chr(10) || "
    "'SEQUENCE:0' || chr(10) || 'END:VEVENT' || chr(10) || 'END:VCALENDAR'"
)
_RESERVATION_JSON = (
    '\'{"end": "2026-12-07T09:00:00+00:00", "id": "\' || md5(e.id::text) || '
    '\'", "item": "Room \' || lpad(e.item_id::text, 3, \'0\') || \'", "organizer": '
    '"frank@example.com", "start": "2026-12-07T08:00:00+00:00", "status": '
    '"confirmed", "subject": "Project review"}\''
)

#: (upper bound of the draw, action): 55% reads, 12% creates, 10% updates, 5% deletes,
#: 15% room answers, 3% push notifications.
ACTIONS = (
    (0.55, "read"),
    (0.67, "create"),
    (0.77, "update"),
    (0.82, "delete"),
    (0.97, "respond"),
    (1.01, "notify"),
)
ERRORS = (
    "ProviderUnavailable: http://127.0.0.1:9/ answered 503 Service Unavailable",
    "ProviderThrottled: 429 Too Many Requests (retry after 30 s)",
    "ProviderRejected: 403 Forbidden: the room's calendar refused the write",
    "InvalidCalendarData: DTEND before DTSTART in the calendar object",
)


def _case(draw: str, choices: tuple[tuple[float, str], ...]) -> str:
    whens = " ".join(f"WHEN {draw} < {bound} THEN '{value}'" for bound, value in choices)
    return f"CASE {whens} END"


def fill_events(connection: Any, options: argparse.Namespace, item_ids: list[int]) -> None:
    """`--events` events, ids in time order over `--days` days until now."""
    errors = "ARRAY[" + ", ".join("'" + e.replace("'", "''") + "'" for e in ERRORS) + "]"
    connection.execute(text("SELECT setseed(0.42)"))
    connection.execute(
        text(
            f"""
            CREATE TEMP TABLE drawn AS
            SELECT g AS id,
                   (CAST(:items AS int[]))[
                       1 + floor(:count * power(random(), 1.6))::int] AS item_id,
                   {_case("random()", ACTIONS)} AS action,
                   random() AS state_draw,
                   now() - make_interval(secs => (:n - g) * :span / :n + random()) AS at
            FROM generate_series(1, :n) AS g
            """
        ),
        {
            "items": item_ids,
            "count": len(item_ids),
            "n": options.events,
            "span": options.days * 86400.0,
        },
    )
    connection.execute(
        text(
            f"""
            INSERT INTO events (id, item_id, reservation_id, synchronization_id, action, state,
                payload, provider_payload, response, error, attempts, next_attempt_at,
                claimed_until, claimed_at, claim_token, created_at, updated_at)
            SELECT e.id, e.item_id,
                CASE WHEN e.action IN ('create', 'update', 'delete', 'respond')
                     THEN md5(e.id::text)::uuid::text END,
                CASE WHEN e.action = 'read' THEN e.id END,
                e.action,
                CASE WHEN e.id > :n - 300 THEN 'new'
                     WHEN e.state_draw < :error_share THEN 'error' ELSE 'processed' END,
                CASE WHEN e.action = 'read' THEN '{{"full": false}}'
                     WHEN e.action = 'notify' THEN '{{"channel": "' || md5(e.item_id::text)
                        || '"}}'
                     ELSE {_RESERVATION_JSON} END,
                CASE WHEN e.action IN ('read', 'notify') THEN {_REPORT}
                     ELSE {_ICALENDAR.format(key="e.id")} END,
                CASE WHEN e.id > :n - 300 THEN ''
                     WHEN e.state_draw < :error_share THEN 'HTTP/1.1 503 Service Unavailable'
                     WHEN e.action = 'read' THEN {_MULTISTATUS}
                     ELSE 'HTTP/1.1 201 Created' || chr(10) || 'ETag: "' || md5(e.id::text)
                        || '"' END,
                CASE WHEN e.id <= :n - 300 AND e.state_draw < :error_share
                     THEN ({errors})[1 + (e.id % {len(ERRORS)})] ELSE '' END,
                CASE WHEN e.id > :n - 300 THEN 0
                     WHEN e.state_draw < :error_share THEN 5 ELSE 1 END,
                e.at, NULL, NULL, 1, e.at, e.at
            FROM drawn AS e ORDER BY e.id
            """
        ),
        {"n": options.events, "error_share": options.error_share},
    )
    connection.execute(
        text(
            """
            INSERT INTO synchronizations (id, item_id, started_at, finished_at, mode,
                delta_key_before, delta_key_after, events_created, calendar_items_created,
                outcome, detail, requests, bytes_received)
            SELECT e.id, e.item_id, e.created_at, e.created_at + interval '0.3 seconds',
                CASE WHEN e.id % 97 = 0 THEN 'full' ELSE 'incremental' END,
                'http://radicale.org/ns/sync/' || md5(e.id::text),
                CASE WHEN e.state = 'error' THEN NULL
                     ELSE 'http://radicale.org/ns/sync/' || md5(e.id::text || 'c') END,
                1, 0,
                CASE WHEN e.state = 'error' THEN 'failed' ELSE 'succeeded' END,
                CASE WHEN e.state = 'error' THEN e.error ELSE '' END,
                1, length(e.response)
            FROM events AS e WHERE e.action = 'read' ORDER BY e.id
            """
        )
    )
    connection.execute(text("DROP TABLE drawn"))


#: Calendar items: kinds and, by a second draw, statuses, as a fleet's reads produce them.
KINDS = ((0.45, "new_reservation"), (0.85, "reservation_update"), (1.01, "cancellation"))
STATUSES = (
    (0.80, "applied"),
    (0.92, "skipped"),
    (0.95, "rejected"),
    (0.97, "failed"),
    (0.98, "awaiting_approval"),
    (1.01, "pending"),
)


def fill_calendar_items(connection: Any, options: argparse.Namespace) -> None:
    """`--calendar-items` calendar items, made by the reads (0 to 8 each), ids in time
    order."""
    reads = connection.execute(text("SELECT count(*) FROM events WHERE action = 'read'"))
    per_read = options.calendar_items / max(1, reads.scalar_one())
    connection.execute(
        text(
            f"""
            INSERT INTO calendar_items (item_id, event_id, synchronization_id, kind, status,
                provider_id, provider_version, provider_payload, outcome, error, created_at,
                applied_at)
            SELECT item_id, event_id, synchronization_id, kind, status, provider_id,
                provider_version, provider_payload,
                CASE status WHEN 'applied' THEN 'confirmed' WHEN 'skipped'
                     THEN 'an echo of our own write' ELSE '' END,
                CASE status WHEN 'failed' THEN 'InvalidCalendarData: no DTSTART' ELSE '' END,
                created_at,
                CASE WHEN status IN ('applied', 'skipped', 'rejected') THEN created_at END
            FROM (
                SELECT e.item_id, e.id AS event_id, e.synchronization_id,
                    {_case("random()", KINDS)} AS kind, {_case("random()", STATUSES)} AS status,
                    '/rooms/room-' || lpad(e.item_id::text, 3, '0') || '/'
                        || md5(e.id::text || k::text) || '.ics' AS provider_id,
                    '"' || md5(e.id::text || k::text || 'v') || '"' AS provider_version,
                    {_ICALENDAR.format(key="(e.id * 10 + k)")} AS provider_payload,
                    e.created_at
                FROM events AS e
                CROSS JOIN LATERAL generate_series(
                    1, floor(random() * (2 * :per_read + 1.02) + 0 * e.id)::int) AS k
                WHERE e.action = 'read'
                ORDER BY e.id, k
                LIMIT :n
            ) AS made
            """
        ),
        {"per_read": per_read, "n": options.calendar_items},
    )


def fill_reservations(connection: Any, options: argparse.Namespace, item_ids: list[int]) -> None:
    """Five one-hour bookings a day per room, 08:00-17:00 UTC, over `--days` days back and
    30 ahead (the booking load of the bench's hours starts after these)."""
    connection.execute(
        text(
            """
            INSERT INTO reservations (id, item_id, start_at, end_at, status, origin, uid,
                recurrence_key, subject, organizer, all_day, sequence, provider_id,
                provider_version, reason, created_at, updated_at)
            SELECT md5(i::text || '-' || d::text || '-' || s::text)::uuid::text, i,
                day + make_interval(hours => 8 + 2 * s), day + make_interval(hours => 9 + 2 * s),
                CASE WHEN (i + d + s) % 17 = 0 THEN 'cancelled' ELSE 'confirmed' END,
                CASE WHEN (i + s) % 3 = 0 THEN 'workplace' ELSE 'calendar' END,
                md5(i::text || d::text || s::text) || '@example.com', '', 'Team meeting',
                'frank@example.com', false, 0,
                '/rooms/room-' || lpad(i::text, 3, '0') || '/' || md5(i::text || d::text
                    || s::text) || '.ics',
                '"1"', '', day - interval '3 days', day - interval '3 days'
            FROM unnest(CAST(:items AS int[])) AS i,
                generate_series(-:days, 30) AS d,
                generate_series(0, 4) AS s,
                LATERAL (SELECT date_trunc('day', now()) + make_interval(days => d) AS day) AS t
            """
        ),
        {"items": item_ids, "days": options.days},
    )


def fill(engine: Engine, options: argparse.Namespace) -> dict[str, float]:
    """Fill the store; seconds per step."""
    spent: dict[str, float] = {}
    with engine.begin() as connection:
        item_ids = list(connection.scalars(text("SELECT id FROM workplace_items ORDER BY id")))
        connection.execute(text("SET LOCAL session_replication_role = replica"))  # no FK checks
        for name, step in (
            ("events and synchronizations", lambda: fill_events(connection, options, item_ids)),
            ("calendar items", lambda: fill_calendar_items(connection, options)),
        ):
            began = time.perf_counter()
            step()
            spent[name] = time.perf_counter() - began
        for table in ("events", "synchronizations", "calendar_items"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    with engine.begin() as connection:  # triggers on: reservations get their `exclusive`
        began = time.perf_counter()
        fill_reservations(connection, options, item_ids)
        spent["reservations"] = time.perf_counter() - began
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    spent["vacuum analyze"] = time.perf_counter() - began
    return spent


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("events", "calendar_items", "synchronizations", "reservations")
        }


# --- the server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def same_code() -> dict[str, str]:
    """The environment of a `calsync` process running the code this bench imported."""
    import calsync as package

    source = str(Path(package.__file__).parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}


def calsync(config: Path, *args: str) -> str:
    done = subprocess.run(
        [CALSYNC, "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=same_code(),
    )
    if done.returncode != 0:
        raise SystemExit(f"calsync {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def new_token(config: Path, role: str) -> str:
    printed = calsync(config, "tokens", "create", "--role", role, "--name", f"bench-{role}")
    found = re.search(r"calsync_[0-9a-f]+_[A-Za-z0-9_-]+", printed)
    if found is None:
        raise SystemExit(f"no token in: {printed}")
    return found.group(0)


def server_command(config: Path, port: int, processes: int) -> list[str]:
    return [
        *(CALSYNC, "--config", str(config), "serve", "--no-worker", "--port", str(port)),
        *("--http-processes", str(processes)),
    ]


@contextmanager
def serving(config: Path, port: int, log: Path, processes: int = 1) -> Iterator[tuple[str, int]]:
    with log.open("w") as out:
        process = subprocess.Popen(
            server_command(config, port, processes),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**same_code(), "CALSYNC_CONFIG": str(config)},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"calsync serve did not start: {log.read_text()}")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


# --- measuring --------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ordered[-1]}


def timed_gets(
    client: httpx.Client, paths: Callable[[int], str], requests: int, meter: CpuMeter
) -> dict[str, float]:
    """Client-side milliseconds of `requests` GETs (after 20 unmeasured), one at a time,
    and the CPU milliseconds the server and PostgreSQL spent per request. A slow route
    stops after `BUDGET_SECONDS` (with at least 30 measured)."""
    spent: list[float] = []
    stop = time.monotonic() + BUDGET_SECONDS
    for number in range(-20, requests):
        if len(spent) >= 30 and time.monotonic() > stop:
            break
        if number == 0:
            meter.start()
        path = paths(number)
        began = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - began) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        if number >= 0:
            spent.append(elapsed)
    figures = percentiles(spent)
    figures.update(meter.per_request(len(spent)), requests=len(spent))
    return figures


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(group: int) -> float:
    """CPU seconds of the live processes of a process group (a server and its workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == group:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class CpuMeter:
    """CPU spent by the server process and by PostgreSQL's backends serving this database
    (those connected when `start` is called): on a shared machine, the cost of a request
    whatever the others' load does to its latency."""

    def __init__(self, server_pid: int, engine: Engine) -> None:
        self.server_pid, self.engine = server_pid, engine
        self.backends: list[int] = []
        self.began = (0.0, 0.0)

    def _backends(self) -> list[int]:
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()"
                    )
                )
            )

    def _now(self) -> tuple[float, float]:
        server = group_cpu_seconds(self.server_pid)  # the server leads its own group
        return server, sum(cpu_seconds(pid) for pid in self.backends)

    def start(self) -> None:
        self.backends = self._backends()
        self.began = self._now()

    def per_request(self, requests: int) -> dict[str, float]:
        server, database = self._now()
        return {
            "server_cpu": (server - self.began[0]) * 1000 / requests,
            "pg_cpu": (database - self.began[1]) * 1000 / requests,
        }


def read_routes(engine: Engine, options: argparse.Namespace) -> dict[str, Callable[[int], str]]:
    with engine.connect() as connection:
        top = connection.scalar(text("SELECT max(id) FROM events"))
        top_item = connection.scalar(text("SELECT max(id) FROM calendar_items"))
    picker = random.Random(7)
    event_ids = [picker.randrange(1, top) for _ in range(options.requests + 20)]
    deep = encode("events", [top // 2])
    deep_items = encode("calendar_items", [top_item // 2])
    routes: dict[str, Callable[[int], str]] = {
        "events, first page": lambda _: "/api/v1/events",
        "events, a deep page (cursor)": lambda _: f"/api/v1/events?cursor={deep}",
        "an event's JSON": lambda n: f"/api/v1/events/{event_ids[n + 20]}",
        "events in error, first page": lambda _: "/api/v1/events?status=error",
        "events in error, a deep page": lambda _: f"/api/v1/events?status=error&cursor={deep}",
        "events of one room, first page": lambda _: f"/api/v1/events?item={room(100)}",
        "calendar items, first page": lambda _: "/api/v1/calendar-items",
        "calendar items, a deep page": lambda _: f"/api/v1/calendar-items?cursor={deep_items}",
        "workplace items (dashboard table)": lambda _: "/api/v1/workplace-items?limit=200",
        "/metrics": lambda _: "/metrics",
    }
    return {name: path for name, path in routes.items() if wanted(name, options)}


def page_routes(engine: Engine, options: argparse.Namespace) -> dict[str, Callable[[int], str]]:
    """The admin pages an admin opens most: the dashboard, the exchange log, an event."""
    with engine.connect() as connection:
        top = connection.scalar(text("SELECT max(id) FROM events"))
    picker = random.Random(11)
    event_ids = [picker.randrange(1, top) for _ in range(options.requests + 20)]
    routes: dict[str, Callable[[int], str]] = {
        "page: dashboard": lambda _: "/admin/",
        "page: events": lambda _: "/admin/events",
        "page: events in error": lambda _: "/admin/events?state=error",
        "page: an event (its JSON)": lambda n: f"/admin/events/{event_ids[n + 20]}",
    }
    return {name: path for name, path in routes.items() if wanted(name, options)}


def wanted(route: str, options: argparse.Namespace) -> bool:
    return options.route is None or any(part in route for part in options.route)


def log_in(client: httpx.Client, token: str) -> None:
    """Log in to the admin pages as a browser does: the form's CSRF value, then the token."""
    form = client.get("/admin/login")
    form.raise_for_status()
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if found is None:
        raise SystemExit("the login page has no CSRF field")
    answer = client.post("/admin/login", data={"csrf": found[1], "token": token, "next": ""})
    if answer.status_code != 303 or "calsync_session" not in client.cookies:
        raise SystemExit(f"logging in failed: {answer.status_code} {answer.text[:200]}")


def reads(
    base_url: str, token: str, engine: Engine, options: argparse.Namespace, meter: CpuMeter
) -> None:
    print(f"\nreads, {options.requests} each, one at a time (ms, client side):")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for name, paths in read_routes(engine, options).items():
            print(show(name, timed_gets(client, paths, options.requests, meter)), flush=True)
    with httpx.Client(base_url=base_url, timeout=30) as browser:
        log_in(browser, token)
        for name, paths in page_routes(engine, options).items():
            print(show(name, timed_gets(browser, paths, options.requests, meter)), flush=True)
    if options.route is None:
        print("\nthe dashboard's queries (calsync.store.overview), in-process (ms):")
        for name, figures in dashboard_queries(engine, 30).items():
            print(show(name, figures))


def dashboard_queries(engine: Engine, repeats: int) -> dict[str, dict[str, float]]:
    """The store's overview queries, in-process, milliseconds each."""
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        item_ids = list(session.scalars(text("SELECT id FROM workplace_items")))
        now = datetime.now(UTC)
        queries: dict[str, Callable[[], object]] = {
            "item_states (all items)": lambda: overview.item_states(session, item_ids),
            "events_by_state": lambda: overview.events_by_state(session),
            "calendar_items_by_status": lambda: overview.calendar_items_by_status(session),
            "queue_depth": lambda: overview.queue_depth(session, now),
            "provider_errors": lambda: overview.provider_errors(session),
            "dashboard: the closed days read": lambda: health.read_history(session, now),
            "dashboard: today (closed days kept)": lambda: health.health(session, now, kept),
        }
        kept = health.HistoryCache()
        health.health(session, now, kept)
        measured = {}
        for name, query in queries.items():
            spent = []
            for number in range(-3, repeats):
                began = time.perf_counter()
                query()
                session.rollback()
                if number >= 0:
                    spent.append((time.perf_counter() - began) * 1000)
            measured[name] = percentiles(spent)
        return measured


WRK_SCRIPT = """
-- One new hour of one room per request, never the same twice: thread t of T takes slots
-- t, t + T, t + 2T, ...; slot s is room (s mod ROOMS) at hour (s div ROOMS) after BASE.
local counter, threads, rooms, base = 0, THREADS, ROOMS, BASE
thread_index = 0  -- a global: setup() sets it in each thread's own state
local next_index = 0

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
end

function request()
  local slot = counter * threads + thread_index
  counter = counter + 1
  local room = slot % rooms + 1
  local start = base + math.floor(slot / rooms) * 3600
  local body = string.format(
    '{"item": "Room %03d", "start": "%s", "end": "%s", "subject": "Load test", '
    .. '"organizer": "load@example.com"}',
    room, os.date("!%Y-%m-%dT%H:%M:%S+00:00", start),
    os.date("!%Y-%m-%dT%H:%M:%S+00:00", start + 1800))
  return wrk.format("POST", "/api/v1/reservations", nil, body)
end

function done(summary, latency, requests)
  local line = string.format(
    "BENCH requests=%d seconds=%.3f rate=%.1f p50=%.2f p90=%.2f p95=%.2f p99=%.2f "
    .. "max=%.2f non2xx=%d errors=%d",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout)
  io.write(line .. "\\n")
end
"""


def settle_earlier_load(engine: Engine) -> None:
    """On a reused database: the bookings an earlier run's load made were never sent (no
    worker runs here); a worker would have sent them, so they are marked processed, and
    the tables vacuumed as autovacuum would have done by now (migration 0010)."""
    with engine.begin() as connection:
        settled = connection.execute(
            text(
                "UPDATE events SET state = 'processed', attempts = 1, "
                "response = 'settled by bench/api.py', updated_at = created_at "
                "WHERE state = 'new' AND reservation_id IN "
                "(SELECT id FROM reservations WHERE organizer = 'load@example.com')"
            )
        ).rowcount
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) events, calendar_items, synchronizations"))
    print(f"earlier runs' bookings settled as a worker would have: {settled} events; vacuumed")


def booking_base(engine: Engine, offset_days: int) -> int:
    """Where the load's hours start: `offset_days` ahead, after every reservation kept
    (the filled ones, and a former run's load on a `--reuse`d database)."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with engine.connect() as connection:
        last = connection.scalar(text("SELECT max(end_at) FROM reservations"))
    start = max(start + timedelta(days=offset_days), (last or start) + timedelta(hours=1))
    return int(start.replace(minute=0, second=0, microsecond=0).timestamp())


def create_with_wrk(url: str, token: str, options: argparse.Namespace, base: int) -> dict:
    threads = 2
    script = WRK_SCRIPT.replace("THREADS", str(threads)).replace("ROOMS", str(options.items))
    script = script.replace("BASE", str(base))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{options.connections}",
                f"-d{options.create_seconds}s",
                "--timeout",
                "10s",
                "-s",
                lua.name,
                "-H",
                f"Authorization: Bearer {token}",
                "-H",
                "Content-Type: application/json",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(lua.name)
    found = re.search(r"BENCH (.*)", done.stdout)
    if found is None:
        raise SystemExit(f"wrk printed no figures: {done.stdout}{done.stderr}")
    figures = {k: float(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    figures["tool"] = f"wrk -t{threads} -c{options.connections}"  # type: ignore[assignment]
    return figures


async def _open_loop(url: str, token: str, options: argparse.Namespace, base: int) -> dict:
    """`--create-rate` bookings a second for `--create-seconds`, each sent on time."""
    headers = {"Authorization": f"Bearer {token}"}
    total = int(options.create_rate * options.create_seconds)
    spent: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

        async def one(slot: int, due: float) -> None:
            start = datetime.fromtimestamp(base + (slot // options.items) * 3600, UTC)
            body = {
                "item": room(slot % options.items + 1),
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "subject": "Load test",
                "organizer": "load@example.com",
            }
            answer = await client.post("/api/v1/reservations", json=body, timeout=10)
            spent.append((time.perf_counter() - due) * 1000)  # from when it was due
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        began = time.perf_counter()
        tasks = []
        for slot in range(total):
            due = began + slot / options.create_rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(slot, due)))
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - began
    figures: dict[str, Any] = percentiles(spent)
    figures.update(
        requests=total,
        seconds=seconds,
        rate=total / seconds,
        non2xx=sum(n for code, n in statuses.items() if code >= 300),
        tool=f"open loop, {options.create_rate}/s (httpx)",
    )
    return figures


def create_load(url: str, token: str, options: argparse.Namespace, base: int) -> dict:
    if shutil.which("wrk") and not options.open_loop:
        return create_with_wrk(url, token, options, base)
    return asyncio.run(_open_loop(url, token, options, base))


# --- the run ----------------------------------------------------------------------------


def cpu_busy() -> Callable[[], float]:
    """A function giving the busy CPUs (of all) since this call, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    cpus = os.cpu_count() or 1

    def since() -> float:
        busy1, total1 = sample()
        return cpus * (busy1 - busy0) / max(1, total1 - total0)

    return since


def show(name: str, figures: dict[str, Any]) -> str:
    cells = " ".join(f"{key} {figures[key]:7.1f}" for key in ("p50", "p95", "p99", "max"))
    if "server_cpu" in figures:
        cells += f"   cpu/request: server {figures['server_cpu']:5.1f}"
        cells += f" postgres {figures['pg_cpu']:5.1f}"
    if "requests" in figures and "tool" not in figures:
        cells += f"   ({int(figures['requests'])} requests)"
    return f"{name:36s} {cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calendar-items", type=int, default=2_000_000)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--error-share", type=float, default=0.03)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--create-seconds", type=int, default=30)
    parser.add_argument("--create-rate", type=float, default=TARGET_CREATE_RATE)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--open-loop", action="store_true", help="httpx even if wrk is there")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=1,
        help="calsync serve --http-processes N: processes answering HTTP",
    )
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--database", default="calsync_bench_api")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use a database kept before")
    parser.add_argument("--fill-only", action="store_true", help="fill, keep, measure nothing")
    parser.add_argument(
        "--only", choices=("reads", "booking"), default=None, help="measure only these"
    )
    parser.add_argument(
        "--route",
        action="append",
        default=None,
        help="only the read routes whose name holds this (repeatable)",
    )
    options = parser.parse_args()
    # SIGTERM (a timeout, Ctrl-C's sibling) runs the clean-up below: the server stops, the
    # database is dropped unless kept.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    url = make_url(options.postgres_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    bench_url = url.set(database=options.database).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="calsync-bench-api-"))
    config = work / "calsync.toml"
    config.write_text(settings_toml(bench_url, options.items))
    engine = create_engine(bench_url)
    try:
        if not options.reuse:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)"))
                connection.execute(text(f"CREATE DATABASE {options.database}"))
            calsync(config, "init")
            began = time.perf_counter()
            spent = fill(engine, options)
            print(f"filled in {time.perf_counter() - began:.0f} s: ", end="")
            print(", ".join(f"{name} {seconds:.0f} s" for name, seconds in spent.items()))
        else:
            calsync(config, "init")  # migrates a database kept from before, if needed
            settle_earlier_load(engine)
        print("rows:", json.dumps(counts(engine)))
        if options.fill_only:
            options.keep = True
            return
        with engine.connect() as connection:
            size = connection.scalar(text("SELECT pg_database_size(current_database())"))
        print(f"database size: {size / 2**20:.0f} MB")
        admin_token = new_token(config, "admin")
        integration_token = new_token(config, "integration")
        busy = cpu_busy()
        log = work / "serve.log"
        processes = options.server_processes
        with serving(config, free_port(), log, processes) as (base_url, server_pid):
            meter = CpuMeter(server_pid, engine)
            if options.only != "booking":
                reads(base_url, admin_token, engine, options, meter)
                print(f"(busy CPUs during the reads: {busy():.2f} of {os.cpu_count()})")
            if options.only == "reads":
                return
            print(f"\nbooking over the API for {options.create_seconds} s:")
            busy = cpu_busy()
            meter.start()
            figures = create_load(base_url, integration_token, options, booking_base(engine, 40))
            figures.update(meter.per_request(int(figures["requests"])))
            print(
                f"{figures['tool']}: {figures['rate']:.1f} requests/s "
                f"({int(figures['requests'])} in {figures['seconds']:.1f} s, "
                f"{int(figures['non2xx'])} not 2xx), p50 {figures['p50']:.1f} ms, "
                f"p95 {figures.get('p95', float('nan')):.1f} ms, p99 {figures['p99']:.1f} ms, "
                f"max {figures['max']:.1f} ms; cpu/request: server "
                f"{figures['server_cpu']:.1f} ms, postgres {figures['pg_cpu']:.1f} ms"
            )
            print(f"(busy CPUs during the load: {busy():.2f} of {os.cpu_count()})")
    finally:
        engine.dispose()
        if not options.keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)"))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
