"""The fleet's final check: do the calendars and the reservations agree, with no double booking?

Read from outside calsync: the calendars as Radicale keeps them on disk (every write went
through Radicale, which writes each object's file whole) and the reservations table.

- every live calendar entry has exactly one live reservation (not cancelled), at its time;
- every live reservation has its calendar entry (one made in calsync too), at its time;
- no two reservations that hold one room overlap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fleet_calendar import Room
from icalendar import Calendar
from sqlalchemy import Engine, select

from calsync.store.tables import ReservationRow

HOLDING = ("pending_approval", "awaiting_confirmation", "confirmed")
Span = tuple[datetime, datetime]


@dataclass
class CheckResult:
    entries: int = 0
    reservations: int = 0
    missing: list[str] = field(default_factory=list)  # entry without a reservation
    duplicated: list[str] = field(default_factory=list)  # entry with several
    wrong_time: list[str] = field(default_factory=list)  # reservation not at the entry's time
    orphans: list[str] = field(default_factory=list)  # live calendar reservation, no entry
    unsent: list[str] = field(default_factory=list)  # made in calsync, not in the calendar
    double_bookings: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # objects the check could not read

    @property
    def ok(self) -> bool:
        return not any(self.problems().values())

    def problems(self) -> dict[str, list[str]]:
        return {
            "missing": self.missing,
            "duplicated": self.duplicated,
            "wrong time": self.wrong_time,
            "orphans": self.orphans,
            "made in calsync, not in the calendar": self.unsent,
            "double bookings": self.double_bookings,
            "unreadable": self.unreadable,
        }

    def summary(self) -> str:
        found = [f"{len(v)} {k} (e.g. {', '.join(v[:3])})" for k, v in self.problems().items() if v]
        counts = f"{self.entries} entries, {self.reservations} live reservations"
        return f"ok ({counts})" if not found else f"FAILED ({counts}): " + "; ".join(found)


def server_entries(storage: Path, room: Room, errors: list[str]) -> dict[str, Span]:
    """Each calendar object's UID and UTC span, as the server holds them now."""
    found = {}
    for path in sorted((storage / "collection-root" / room.calendar.strip("/")).glob("*.ics")):
        try:
            events = Calendar.from_ical(path.read_bytes()).walk("VEVENT")
            main = [e for e in events if e.get("RECURRENCE-ID") is None]
            start, end = main[0].decoded("DTSTART"), main[0].decoded("DTEND")
            if len(main) != 1 or main[0].get("RRULE") or not isinstance(start, datetime):
                raise ValueError("not a single timed meeting")
            found[str(main[0]["UID"])] = (_utc(start), _utc(end))
        except (ValueError, KeyError, IndexError) as exc:
            errors.append(f"{room.name}/{path.name}: {exc}")
    return found


def _utc(value: datetime | date) -> datetime:
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def check(
    engine: Engine, storage: Path, fleet: list[Room], item_ids: dict[str, int]
) -> CheckResult:
    result = CheckResult()
    table = ReservationRow.__table__
    columns = (table.c.item_id, table.c.uid, table.c.start_at, table.c.end_at, table.c.status)
    by_item: dict[int, list[tuple[str, Span, str, str]]] = defaultdict(list)
    with engine.connect() as connection:
        rows = connection.execute(
            select(*columns, table.c.origin).where(table.c.status != "cancelled")
        )
        for item_id, uid, start, end, status, origin in rows:
            by_item[item_id].append((uid, (start, end), status, origin))
    for room in fleet:
        entries = server_entries(storage, room, result.unreadable)
        live = by_item.get(item_ids[room.name], [])
        result.entries += len(entries)
        result.reservations += len(live)
        _compare(room, entries, live, result)
        _overlaps(room, [span for _, span, status, _ in live if status in HOLDING], result)
    return result


def _compare(
    room: Room,
    entries: dict[str, Span],
    live: list[tuple[str, Span, str, str]],
    result: CheckResult,
) -> None:
    spans: dict[str, list[Span]] = defaultdict(list)
    for uid, span, _, origin in live:
        spans[uid].append(span)
        if uid not in entries:
            (result.unsent if origin == "workplace" else result.orphans).append(
                f"{room.name}/{uid}"
            )
    for uid, span in entries.items():
        held = spans.get(uid, [])
        where = f"{room.name}/{uid}"
        if not held:
            result.missing.append(where)
        elif len(held) > 1:
            result.duplicated.append(where)
        elif held[0] != span:
            result.wrong_time.append(f"{where} at {_when(held[0])}, calendar {_when(span)}")


def _overlaps(room: Room, holding: list[Span], result: CheckResult) -> None:
    latest_end: datetime | None = None
    for start, end in sorted(holding):
        if latest_end is not None and start < latest_end:
            result.double_bookings.append(f"{room.name} at {start:%Y-%m-%d %H:%M}Z")
        latest_end = end if latest_end is None else max(latest_end, end)


def _when(span: Span) -> str:
    start, end = span
    return f"{start:%m-%d %H:%M}+{(end - start) // timedelta(minutes=1)}m"
