"""The admin dashboard's counts on a large exchange log: fills a SQLite database with
EVENTS events (1,000,000 by default) and a calendar item for every fourth, spread over
a year, then times `calsync.store.health.health` and `recent_errors`, as the dashboard
reads them (the first run reads the closed days, the next ones take them from a
`HistoryCache`), and the admin pages over HTTP (the dashboard, the events in error, the
last page of events). Usage: python bench/dashboard.py [EVENTS]"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.bulk import insert_values
from calsync.store.health import HistoryCache, health, recent_errors
from calsync.store.records import CALENDAR_ITEMS, EVENTS, RecordFilter

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)
STATES = ("processed",) * 96 + ("error",) * 3 + ("new",)
KINDS = ("new_reservation", "reservation_update", "cancellation")


def fill(services, count: int) -> None:
    step = timedelta(days=365) / count
    columns = [
        "item_id",
        "action",
        "state",
        "payload",
        "error",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "claim_token",
        "provider_payload",
        "response",
    ]
    batch = 50_000
    for first in range(0, count, batch):
        rows = []
        for n in range(first, min(count, first + batch)):
            at = NOW - step * (count - n)
            state = STATES[n % len(STATES)]
            error = "ProviderRejected: 403" if state == "error" and n % 2 else ""
            rows.append([1, "read", state, "{}", error, 1, at, at, at, 0, "", ""])
        items = [  # made first: inserting turns the rows' times into text
            [1, first + i + 1, KINDS[i % 3], "applied", "x", "", "", "", row[7]]
            for i, row in enumerate(rows)
            if i % 4 == 0
        ]
        with services.uow() as uow:
            insert_values(uow.session, EVENTS, columns, rows)
            insert_values(
                uow.session,
                CALENDAR_ITEMS,
                [
                    "item_id",
                    "event_id",
                    "kind",
                    "status",
                    "provider_id",
                    "provider_payload",
                    "outcome",
                    "error",
                    "created_at",
                ],
                items,
            )
            uow.commit()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'calsync.db'}"
        services = start(parse({"database": {"url": url}, "items": [{"name": "Room A"}]}))
        began = time.perf_counter()
        fill(services, count)
        print(f"filled {count:,} events in {time.perf_counter() - began:.1f} s")
        kept = HistoryCache()
        for attempt in range(3):
            began = time.perf_counter()
            with services.read() as uow:
                counted = health(uow.session, NOW, kept)
                recent_errors(uow.session, NOW)
            spent = 1000 * (time.perf_counter() - began)
            print(
                f"dashboard counts, run {attempt + 1}: {spent:.0f} ms"
                f" ({'closed days kept' if attempt else 'closed days read'},"
                f" events today {counted.events_today}, errors 24 h {counted.errors_last_day})"
            )
        pages(services)
        services.close()


def pages(services) -> None:
    """Each page's time through the application, logged in as an admin."""
    import re

    from fastapi.testclient import TestClient

    from calsync.api.app import create_app
    from calsync.domain.access import Role

    with services.uow() as uow:
        token = uow.tokens.issue(Role.admin, NOW, "bench")
        uow.commit()
    client = TestClient(create_app(services))
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/login").text)[1]
    client.post("/admin/login", data={"token": token, "csrf": csrf})
    cursor = ""
    with services.read() as uow:
        oldest = uow.events.find(RecordFilter(limit=1, before_id=52))
    if oldest:  # the cursor of the page that ends at the oldest events
        from calsync.api.pagination import encode

        cursor = encode("events", [51])
    for path in ("/admin/", "/admin/events?state=error", f"/admin/events?cursor={cursor}"):
        spent = []
        for _ in range(3):
            began = time.perf_counter()
            answer = client.get(path)
            spent.append(1000 * (time.perf_counter() - began))
            assert answer.status_code == 200, answer.text[:300]
        print(f"GET {path[:40]}: {' / '.join(f'{ms:.0f}' for ms in spent)} ms")


if __name__ == "__main__":
    main()
