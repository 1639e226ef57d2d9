"""The exchange log's growth per day, with and without retention: a fleet's polls written
as the worker writes them, day after simulated day, and the store's size after each day.

    .venv/bin/python bench/retention.py [--rooms 500] [--days 8] [--database URL]

Each room is polled every `--poll-minutes` (500 rooms every 5 minutes: 144,000 read
events a day). Every poll is a synchronization and a read event holding its request and
response (a `sync-collection` REPORT and its multistatus answer); `--change-share` of
the polls find a change: a larger answer with the calendar data and one calendar item
holding it; `--error-share` of the polls end in error. Rows are written directly (the
worker's speed is not measured here), with a simulated clock.

The run "without" keeps everything; the run "with" applies `purge` once a simulated hour,
as the worker does, with `--processed-days`, `--error-days` and `--synchronization-days`
(scaled down from 30/90/365 so that a few simulated days show the plateau). SQLite: the
file size after a checkpoint (freed pages are reused, the file does not shrink) and the
pages in use; PostgreSQL: pg_total_relation_size of the three tables after a VACUUM (what
autovacuum would do).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from calsync.bootstrap import Services, start
from calsync.config import parse
from calsync.store.retention import purge
from calsync.store.tables import CalendarItemRow, EventRow, SynchronizationRow

START = datetime(2027, 1, 1, tzinfo=UTC)
MB = 1024 * 1024

REQUEST = """REPORT {href} HTTP/1.1
Content-Type: application/xml; charset=utf-8
Depth: 1

<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:sync-token>http://radicale.org/ns/sync/{before}</D:sync-token>
  <D:sync-level>1</D:sync-level>
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
</D:sync-collection>"""

EMPTY_ANSWER = """HTTP/1.1 207 Multi-Status
Content-Type: text/xml; charset=utf-8

<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:"><sync-token>http://radicale.org/ns/sync/{after}</sync-token></multistatus>"""

ENTRY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp.//Outlook 16.0//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20270101T080000Z
DTSTART;TZID=Europe/Berlin:20270112T{hour:02d}0000
DTEND;TZID=Europe/Berlin:20270112T{end:02d}0000
SUMMARY:Project sync {uid_short}
DESCRIPTION:{description}
ORGANIZER;CN=Frank Example:mailto:frank@example.com
ATTENDEE;CN=Room;CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:room@example.com
ATTENDEE;CN=Alice Example;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:alice@example.com
ATTENDEE;CN=Bob Example;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE:mailto:bob@example.com
SEQUENCE:{sequence}
END:VEVENT
END:VCALENDAR"""

CHANGED_ANSWER = """HTTP/1.1 207 Multi-Status
Content-Type: text/xml; charset=utf-8

<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<response><href>{href}</href><propstat><prop><getetag>"{etag}"</getetag>
<C:calendar-data>{entry}</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat>
</response><sync-token>http://radicale.org/ns/sync/{after}</sync-token></multistatus>"""


class Fleet:
    """Writes one simulated hour of polls per transaction."""

    def __init__(self, services: Services, options: argparse.Namespace) -> None:
        self.services, self.options = services, options
        self.random = random.Random(6)
        with services.uow() as uow:
            self.items = sorted(uow.items.names())
        self.next_sync = self.next_event = 1

    def hour(self, began: datetime) -> None:
        syncs: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        calendar_items: list[dict[str, Any]] = []
        polls = int(60 / self.options.poll_minutes)
        for poll in range(polls):
            when = began + timedelta(minutes=poll * self.options.poll_minutes)
            for item_id in self.items:
                self._poll(item_id, when, syncs, events, calendar_items)
        with self.services.uow() as uow:
            for table, rows in (
                (SynchronizationRow, syncs),
                (EventRow, events),
                (CalendarItemRow, calendar_items),
            ):
                if rows:
                    uow.session.execute(insert(table), rows)
            uow.commit()

    def _poll(
        self,
        item_id: int,
        when: datetime,
        syncs: list[dict[str, Any]],
        events: list[dict[str, Any]],
        calendar_items: list[dict[str, Any]],
    ) -> None:
        roll = self.random.random()
        sync_id, event_id = self.next_sync, self.next_event
        self.next_sync, self.next_event = sync_id + 1, event_id + 1
        href = f"/rooms/room-{item_id}/"
        before, after = uuid.uuid4(), uuid.uuid4()
        failed = roll < self.options.error_share
        changed = not failed and roll < self.options.error_share + self.options.change_share
        entry = self._entry() if changed else ""
        answer = (
            CHANGED_ANSWER.format(
                href=f"{href}{uuid.uuid4()}.ics", etag=uuid.uuid4().hex, entry=entry, after=after
            )
            if changed
            else EMPTY_ANSWER.format(after=after)
        )
        syncs.append(
            {
                "id": sync_id, "item_id": item_id, "started_at": when, "finished_at": when,
                "mode": "incremental", "delta_key_before": f"http://radicale.org/ns/sync/{before}",
                "delta_key_after": None if failed else f"http://radicale.org/ns/sync/{after}",
                "events_created": 1, "calendar_items_created": int(changed),
                "outcome": "failed" if failed else "succeeded",
                "detail": "server answered 503" if failed else "", "requests": 1,
                "bytes_received": len(answer),
            }
        )  # fmt: skip
        events.append(
            {
                "id": event_id, "item_id": item_id, "reservation_id": None,
                "synchronization_id": sync_id, "action": "read",
                "state": "error" if failed else "processed", "payload": '{"full": false}',
                "provider_payload": REQUEST.format(href=href, before=before),
                "response": "HTTP/1.1 503 Service Unavailable\n\n" if failed else answer,
                "error": "server answered 503" if failed else "", "attempts": 1,
                "next_attempt_at": when, "claimed_until": None, "created_at": when,
                "updated_at": when,
            }
        )  # fmt: skip
        if changed:
            calendar_items.append(
                {
                    "item_id": item_id, "event_id": event_id, "synchronization_id": sync_id,
                    "kind": "reservation_update", "status": "applied",
                    "provider_id": f"{href}{uuid.uuid4()}.ics", "provider_version": '"etag"',
                    "provider_payload": entry, "outcome": "moved", "error": "",
                    "created_at": when, "applied_at": when,
                }
            )  # fmt: skip

    def _entry(self) -> str:
        uid = str(uuid.uuid4())
        hour = self.random.randrange(7, 18)
        words = self.random.choices(["agenda", "review", "budget", "launch", "team"], k=60)
        return ENTRY.format(
            uid=uid,
            uid_short=uid[:8],
            hour=hour,
            end=hour + 1,
            description=" ".join(words),
            sequence=self.random.randrange(5),
        )


def size(services: Services) -> tuple[float, float]:
    """(bytes on disk, bytes in use) of the store."""
    if services.engine.dialect.name == "sqlite":
        raw = services.engine.raw_connection()  # outside a transaction, as a checkpoint needs
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page, pages, free = (
                cursor.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("page_size", "page_count", "freelist_count")
            )
            return page * pages, page * (pages - free)
        finally:
            raw.close()
    with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM events, calendar_items, synchronizations"))
        total = connection.execute(
            text(
                "SELECT pg_total_relation_size('events') + "
                "pg_total_relation_size('calendar_items') + "
                "pg_total_relation_size('synchronizations')"
            )
        ).scalar()
        return float(total or 0), float(total or 0)


def run(url: str, options: argparse.Namespace, keep: bool) -> list[tuple[float, float, float]]:
    retention = (
        {
            "processed_days": options.processed_days,
            "error_days": options.error_days,
            "synchronization_days": options.synchronization_days,
        }
        if keep
        else {"processed_days": 0, "error_days": 0, "synchronization_days": 0}
    )
    items = [{"name": f"Room {n}"} for n in range(options.rooms)]
    services = start(parse({"database": {"url": url}, "retention": retention, "items": items}))
    fleet, days = Fleet(services, options), []
    try:
        for day in range(options.days):
            purge_seconds = 0.0
            for hour in range(24):
                now = START + timedelta(days=day, hours=hour)
                fleet.hour(now)
                if keep:
                    began = time.perf_counter()
                    purge(services, now + timedelta(hours=1))
                    purge_seconds += time.perf_counter() - began
            on_disk, used = size(services)
            days.append((on_disk, used, purge_seconds))
            print(
                f"  {'with' if keep else 'without'} retention, day {day + 1}: "
                f"{on_disk / MB:8.1f} MB on disk, {used / MB:8.1f} MB in use, "
                f"purges {purge_seconds:5.1f} s",
                flush=True,
            )
    finally:
        services.close()
    return days


def fresh_postgres(url: str, name: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--poll-minutes", type=float, default=5.0)
    parser.add_argument("--change-share", type=float, default=0.05)
    parser.add_argument("--error-share", type=float, default=0.005)
    parser.add_argument("--processed-days", type=int, default=2)
    parser.add_argument("--error-days", type=int, default=4)
    parser.add_argument("--synchronization-days", type=int, default=3)
    parser.add_argument(
        "--database", help="a PostgreSQL server URL (a database is made per run); default SQLite"
    )
    options = parser.parse_args()
    per_day = options.rooms * 24 * 60 / options.poll_minutes
    print(
        f"{options.rooms} rooms polled every {options.poll_minutes:g} min: {per_day:,.0f} read "
        f"events a day, {options.change_share:.0%} with a change, {options.error_share:.1%} "
        f"in error; retention {options.processed_days}/{options.error_days}/"
        f"{options.synchronization_days} days (processed/error/synchronizations)"
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for keep in (False, True):
            name = f"calsync_retention_{'with' if keep else 'without'}"
            url = (
                fresh_postgres(options.database, name)
                if options.database
                else f"sqlite:///{Path(folder) / name}.db"
            )
            results[keep] = run(url, options, keep)
    print("\nday   without (MB on disk, growth)   with (MB on disk, growth, in use)")
    previous = {False: 0.0, True: 0.0}
    for day in range(options.days):
        cells = []
        for keep in (False, True):
            on_disk, used, _ = results[keep][day]
            cells.append(f"{on_disk / MB:9.1f} {(on_disk - previous[keep]) / MB:+8.1f}")
            if keep:
                cells[-1] += f" {used / MB:9.1f}"
            previous[keep] = on_disk
        print(f"{day + 1:3d}   {cells[0]:>28}   {cells[1]:>36}")


if __name__ == "__main__":
    main()
