"""What one claim costs with a backlog of due outbound events.

    .venv/bin/python bench/claims.py [--due 5000] [--items 100] [--database URL]

Queues DUE room answers (`respond` events, not sent) spread over ITEMS workplace items
and one due read, then times `claim_next` (claim one event, commit) and puts the claimed
event back, 200 times; prints the median and p95 in milliseconds. Default database: a
new SQLite file; with a PostgreSQL URL, a new database on that server, dropped after.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text, update

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.events import Action
from calsync.store.tables import EventRow
from calsync.worker.runner import claim_next

ROUNDS = 200


def settings(database: str, items: int):
    return parse(
        {
            "database": {"url": database},
            "connections": {"dav": {"kind": "caldav", "url": "http://127.0.0.1:9/"}},
            "items": [
                {
                    "name": f"Room {n}",
                    "binding": {
                        "connection": "dav",
                        "calendar": f"/rooms/{n}/",
                        "room_address": f"room-{n}@example.com",
                    },
                }
                for n in range(items)
            ],
        }
    )


def queue(services, due: int, items: int) -> None:
    now = services.clock() - timedelta(seconds=1)
    with services.uow() as uow:
        ids = [uow.items.get(f"Room {n}").id for n in range(items)]
        for index in range(due):
            item = ids[index % items]
            uow.events.add(item, Action.respond, now, {"answer": index}, str(uuid.uuid4()))
        uow.events.add(ids[0], Action.read, now + timedelta(days=1), {})
        uow.commit()


def put_back(services, event_id: int) -> None:
    with services.uow() as uow:
        uow.session.execute(
            update(EventRow)
            .where(EventRow.id == event_id)
            .values(state="new", claimed_until=None, next_attempt_at=services.clock())
        )
        uow.commit()


def measure(database: str, due: int, items: int) -> list[float]:
    services = start(settings(database, items))
    try:
        queue(services, due, items)
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            [claim] = claim_next(services)
            times.append((time.perf_counter() - started) * 1000)
            put_back(services, claim.event_id)
        return times
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--due", type=int, default=5000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-claims-") as folder:
        database, drop = args.database, None
        if not database:
            database = f"sqlite:///{Path(folder) / 'calsync.db'}"
        elif database.startswith("postgresql"):
            name = f"calsync_claims_{uuid.uuid4().hex[:8]}"
            admin = create_engine(database, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
            database, drop = database.rsplit("/", 1)[0] + "/" + name, name
        try:
            times = sorted(measure(database, args.due, args.items))
        finally:
            if drop:
                with admin.connect() as connection:
                    connection.execute(text(f"DROP DATABASE {drop} WITH (FORCE)"))
    p95 = times[int(len(times) * 0.95)]
    print(f"{args.due} due outbound events over {args.items} items, {database.split(':')[0]}:"
          f" claim median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
