"""Inserting a large synchronization's reservations: random (version 4) against
time-ordered (version 7) ids, on SQLite. Prints the seconds of each, median of --repeat.

    .venv/bin/python bench/reservation_ids.py [--rows 59335] [--repeat 3]

The rows look like the main benchmark's (one room, 10% confirmed, the rest declined),
written in batches of 500 through `ReservationRepository.add_many`, as the applier does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import Origin, Reservation, ReservationStatus
from calsync.sync.ids import reservation_ids

BASE = datetime(2027, 1, 1, tzinfo=UTC)


def rows(count: int, new_id: Callable[[], str]) -> list[Reservation]:
    return [
        Reservation(
            id=new_id(),
            item="Room",
            start=BASE + timedelta(minutes=7 * i),
            end=BASE + timedelta(minutes=7 * i + 5),
            status=ReservationStatus.confirmed if i % 10 == 0 else ReservationStatus.declined,
            origin=Origin.calendar,
            uid=f"meeting-{i // 6}",
            recurrence_id=BASE + timedelta(minutes=7 * i) if i % 6 else None,
            provider_id=f"/rooms/room/meeting-{i // 6}.ics",
            provider_version='"etag"',
            subject="Design review",
            organizer="frank@example.com",
        )
        for i in range(count)
    ]


def insert_seconds(count: int, new_id: Callable[[], str]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'calsync.db'}"
        services = start(parse({"database": {"url": url}, "items": [{"name": "Room"}]}))
        made, now = rows(count, new_id), datetime.now(UTC)
        began = time.perf_counter()
        for start_at in range(0, len(made), 500):
            with services.uow() as uow:
                uow.reservations.add_many(made[start_at : start_at + 500], now)
                uow.commit()
        elapsed = time.perf_counter() - began
        services.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=59_335)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kinds: dict[str, Callable[[], Callable[[], str]]] = {
        "uuid4 (random)": lambda: lambda: str(uuid.uuid4()),
        "uuid7 (reservation_ids)": reservation_ids,
    }
    for name, factory in kinds.items():
        runs = [insert_seconds(args.rows, factory()) for _ in range(args.repeat)]
        spread = f"{min(runs):.2f}-{max(runs):.2f}"
        print(f"{name:>24}: {statistics.median(runs):.2f} s ({spread}) for {args.rows} rows")


if __name__ == "__main__":
    main()
