"""The fleet's load: `plan_load` spreads the minutes' changes, `run_load` makes them, and
`Booker` books rooms in calsync through its CLI, as an operator or a script does."""

from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import fleet_calendar as fc
import fleet_procs as procs
import httpx
from fleet_watch import Watch
from sqlalchemy import Engine, select

from calsync.store.tables import ReservationRow


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
