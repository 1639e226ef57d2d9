"""Watching the fleet from outside: `Watch`, a thread that polls the database.

For each organizer's change on the server it notes when the room's reservation first says
what the calendar says (the lag); for each booking made in calsync, when it reached the
calendar (its provider id is set); and the queue's length over time (outbound events
waiting), from which the end of the room answers' backlog is read.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from fleet_calendar import Change
from sqlalchemy import Engine, func, select, tuple_

from calsync.store.tables import EventRow, ReservationRow

OUTBOUND = ("create", "update", "delete", "respond")
WAITING = ("new", "processing")


@dataclass
class Tracked:
    change: Change
    item_id: int
    made: float  # monotonic, when the server accepted the change
    arrived: float | None = None


@dataclass
class Booking:
    reservation_id: str
    made: float  # monotonic, when the command returned
    sent: float | None = None


@dataclass
class QueueSample:
    at: float  # monotonic
    outbound: int
    reads: int


@dataclass
class Watch:
    engine: Engine
    item_ids: dict[str, int]
    period: float = 0.5
    changes: list[Tracked] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    queue: list[QueueSample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the watcher's own failures
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleet-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def track(self, change: Change, made: float) -> None:
        with self._lock:
            self.changes.append(Tracked(change, self.item_ids[change.room.name], made))

    def track_booking(self, reservation_id: str, made: float) -> None:
        with self._lock:
            self.bookings.append(Booking(reservation_id, made))

    def busy(self, room_name: str) -> set[str]:
        """The UIDs of `room_name` whose last change has not arrived yet."""
        with self._lock:
            return {
                t.change.uid
                for t in self.changes
                if t.arrived is None and t.change.room.name == room_name
            }

    def pending(self) -> tuple[int, int]:
        """Changes not arrived, bookings not sent."""
        with self._lock:
            return (
                sum(t.arrived is None for t in self.changes),
                sum(b.sent is None for b in self.bookings),
            )

    def outbound_waiting(self) -> int:
        return self.queue[-1].outbound if self.queue else -1

    def backlog_gone_at(self, after: float) -> float | None:
        """The first time after `after` that no outbound event was waiting."""
        return next((s.at for s in self.queue if s.at >= after and s.outbound == 0), None)

    def _run(self) -> None:
        last_queue = 0.0
        while not self._stop.wait(self.period):
            try:
                with self.engine.connect() as connection:
                    self._look(connection)
                    if time.monotonic() - last_queue >= 1.0:
                        last_queue = time.monotonic()
                        self._sample_queue(connection)
            except Exception as exc:  # noqa: BLE001 - keep watching; report at the end
                self.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    def _look(self, connection: object) -> None:
        with self._lock:
            waiting = [t for t in self.changes if t.arrived is None]
            unsent = [b for b in self.bookings if b.sent is None]
        now = time.monotonic()
        if waiting:
            found = self._reservations(connection, {(t.item_id, t.change.uid) for t in waiting})
            for tracked in waiting:
                if _arrived(tracked, found.get((tracked.item_id, tracked.change.uid), [])):
                    tracked.arrived = now
        if unsent:
            table = ReservationRow.__table__
            ids = [b.reservation_id for b in unsent]
            sent = {
                row_id
                for (row_id,) in connection.execute(  # type: ignore[attr-defined]
                    select(table.c.id).where(table.c.id.in_(ids), table.c.provider_id.is_not(None))
                )
            }
            for booking in unsent:
                if booking.reservation_id in sent:
                    booking.sent = now

    def _reservations(
        self, connection: object, keys: set[tuple[int, str]]
    ) -> dict[tuple[int, str], list[tuple[datetime, datetime, str]]]:
        table = ReservationRow.__table__
        query = select(table.c.item_id, table.c.uid, table.c.start_at, table.c.end_at).where(
            tuple_(table.c.item_id, table.c.uid).in_(sorted(keys)),
            table.c.status != "cancelled",
        )
        found: dict[tuple[int, str], list[tuple[datetime, datetime, str]]] = defaultdict(list)
        for item_id, uid, start, end in connection.execute(query):  # type: ignore[attr-defined]
            found[(item_id, uid)].append((start, end, uid))
        return found

    def _sample_queue(self, connection: object) -> None:
        table = EventRow.__table__
        query = (
            select(table.c.action, func.count())
            .where(table.c.state.in_(WAITING))
            .group_by(table.c.action)
        )
        counts = dict(connection.execute(query).all())  # type: ignore[attr-defined]
        outbound = sum(n for action, n in counts.items() if action in OUTBOUND)
        sample = QueueSample(time.monotonic(), outbound, counts.get("read", 0))
        with self._lock:
            self.queue.append(sample)


def _arrived(tracked: Tracked, live: list[tuple[datetime, datetime, str]]) -> bool:
    """The room's reservations say what the calendar says after this change."""
    if tracked.change.span is None:
        return not live
    return len(live) == 1 and (live[0][0], live[0][1]) == tracked.change.span


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]
