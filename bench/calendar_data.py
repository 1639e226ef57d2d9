"""The benchmark calendar: N entries of one room, generated deterministically from (N, anchor).

90% are single meetings spread over the year after `anchor`, in business hours, with a
Europe/Berlin TZID; 10% are weekly series (half COUNT=52, half unbounded), each with an
EXDATE and one occurrence moved by a RECURRENCE-ID override. Every VEVENT carries the room
as `ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED`, so the room owes no answer (except for the
clashes it declines: one room with thousands of meetings has many).

`write_storage` lays the entries out the way Radicale's multifilesystem storage keeps them
(`collection-root/<path>/<name>.ics` beside `.Radicale.props`), so a big calendar is built in
seconds instead of ten thousand PUTs.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

ZONE = "Europe/Berlin"
ROOM_ADDRESS = "bench-room@example.com"
CALENDAR = "/rooms/bench-room/"
SERIES_SHARE = 10  # one entry in ten is a weekly series
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
TOPICS = ("Planning", "1:1", "Design review", "Sales sync", "Interview", "Retro", "Demo", "Standup")

VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


@dataclass(frozen=True)
class Entry:
    """One calendar object: a single meeting, or a weekly series when `weeks` is set."""

    uid: str
    start: datetime  # naive wall time in ZONE
    minutes: int
    summary: str
    organizer: str
    booked: datetime  # DTSTAMP, UTC
    series: bool = False
    count: int | None = None  # COUNT of a series; None is unbounded
    sequence: int = 0

    @property
    def file_name(self) -> str:
        return f"{self.uid}.ics"


def anchor_for(today: date) -> date:
    """The first day of the month: entries stay inside the sync window all month long."""
    return today.replace(day=1)


def entries(count: int, anchor: date, seed: int = 20261) -> list[Entry]:
    rng = random.Random(seed)
    return [_entry(i, rng, anchor) for i in range(count)]


def _entry(index: int, rng: random.Random, anchor: date) -> Entry:
    series = index % SERIES_SHARE == SERIES_SHARE - 1
    day = _weekday(anchor + timedelta(days=rng.randint(1, 60 if series else 364)))
    start = datetime.combine(day, time(rng.randint(8, 17), rng.choice((0, 30))))
    booked = datetime(2026, 1, 1, 8) + timedelta(minutes=index)
    kind = "series" if series else "single"
    return Entry(
        uid=f"bench-{kind}-{index:06d}",
        start=start,
        minutes=rng.choice((30, 30, 60, 60, 90)),
        summary=f"{rng.choice(TOPICS)} #{index}",
        organizer=rng.choice(PEOPLE),
        booked=booked,
        series=series,
        count=(52 if index % (2 * SERIES_SHARE) == SERIES_SHARE - 1 else None) if series else None,
    )


def _weekday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


def edited(entry: Entry) -> Entry:
    """The entry after its organizer moved it by an hour and renamed it."""
    return replace(
        entry,
        start=entry.start + timedelta(hours=1),
        summary=entry.summary + " (moved)",
        booked=entry.booked + timedelta(days=30),
        sequence=entry.sequence + 1,
    )


def ics(entry: Entry) -> bytes:
    body = _vevent(entry, entry.start, _series_lines(entry) if entry.series else "")
    if entry.series:
        body += _override(entry)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Calendar App//EN\r\n"
        f"{VTIMEZONE}{body}END:VCALENDAR\r\n"
    ).encode()


def _vevent(entry: Entry, start: datetime, extra: str) -> str:
    end = start + timedelta(minutes=entry.minutes)
    return (
        f"BEGIN:VEVENT\r\nUID:{entry.uid}\r\nDTSTAMP:{entry.booked:%Y%m%dT%H%M%S}Z\r\n"
        f"SEQUENCE:{entry.sequence}\r\n"
        f"DTSTART;TZID={ZONE}:{start:%Y%m%dT%H%M%S}\r\nDTEND;TZID={ZONE}:{end:%Y%m%dT%H%M%S}\r\n"
        f"SUMMARY:{entry.summary}\r\nORGANIZER;CN={entry.organizer.title()}:mailto:"
        f"{entry.organizer}@example.com\r\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED:mailto:{entry.organizer}@example.com\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED;CN=Bench Room:mailto:{ROOM_ADDRESS}\r\n"
        f"{extra}END:VEVENT\r\n"
    )


def _series_lines(entry: Entry) -> str:
    rule = "RRULE:FREQ=WEEKLY" + (f";COUNT={entry.count}" if entry.count else "")
    skipped = entry.start + timedelta(weeks=2)
    return f"{rule}\r\nEXDATE;TZID={ZONE}:{skipped:%Y%m%dT%H%M%S}\r\n"


def _override(entry: Entry) -> str:
    """The fifth occurrence, moved by two hours."""
    original = entry.start + timedelta(weeks=4)
    recurrence = f"RECURRENCE-ID;TZID={ZONE}:{original:%Y%m%dT%H%M%S}\r\n"
    moved = replace(entry, summary=entry.summary + " (moved occurrence)")
    return _vevent(moved, original + timedelta(hours=2), recurrence)


def write_storage(folder: Path, calendar_entries: list[Entry]) -> Path:
    """Write a Radicale storage folder holding one calendar at CALENDAR; return the folder."""
    collection = folder / "collection-root" / CALENDAR.strip("/")
    collection.mkdir(parents=True)
    props = {"tag": "VCALENDAR", "D:displayname": "Bench Room"}
    (collection / ".Radicale.props").write_text(json.dumps(props, sort_keys=True))
    for entry in calendar_entries:
        (collection / entry.file_name).write_bytes(ics(entry))
    return folder
