"""The fleet's calendars: R room calendars of single meetings, and the organizers' changes.

Each room `Room 0007` has its calendar at `/rooms/room-0007/` and its address
`room-0007@example.com`. Its entries are single meetings on business days (08:00 to 19:00
Europe/Berlin, 30 to 90 minutes) in the 300 days after the day the storage was built, each
inviting the room with `PARTSTAT=NEEDS-ACTION` (the room owes an answer, as with a real
invitation) or, with `answered`, `ACCEPTED` (only clashes are answered). Singles only: the
final check compares each entry with its reservation without expanding recurrence (the
initial/incremental benchmark covers series).

`write_storage` lays the calendars out as Radicale's multifilesystem storage keeps them, so
a fleet of 100,000 entries is built in seconds instead of 100,000 PUTs. `Organizers` makes
the changes on the server as calendar clients do: PUT (a new booking or a moved meeting,
which asks the room again) and DELETE, over HTTP.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from calendar_data import VTIMEZONE

ZONE = "Europe/Berlin"
DAYS_AHEAD = 300
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


@dataclass(frozen=True)
class Room:
    number: int

    @property
    def name(self) -> str:
        return f"Room {self.number:04d}"

    @property
    def calendar(self) -> str:
        return f"/rooms/room-{self.number:04d}/"

    @property
    def address(self) -> str:
        return f"room-{self.number:04d}@example.com"


@dataclass(frozen=True)
class Meeting:
    """One single meeting in a room's calendar; `start` is wall time in ZONE."""

    uid: str
    start: datetime
    minutes: int
    organizer: str
    sequence: int = 0

    @property
    def file_name(self) -> str:
        return f"{self.uid}.ics"

    def span_utc(self) -> tuple[datetime, datetime]:
        start = self.start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        return start, start + timedelta(minutes=self.minutes)


def rooms(count: int) -> list[Room]:
    return [Room(number) for number in range(1, count + 1)]


def business_slot(rng: random.Random, first_day: date) -> datetime:
    day = first_day + timedelta(days=rng.randint(1, DAYS_AHEAD))
    if day.weekday() >= 5:
        day += timedelta(days=7 - day.weekday())
    return datetime.combine(day, time(rng.randint(8, 17), rng.choice((0, 30))))


def meetings(room: Room, count: int, first_day: date) -> list[Meeting]:
    rng = random.Random(f"{room.number}/{count}/{first_day}")
    return [
        Meeting(
            uid=f"fleet-{room.number:04d}-{index:05d}",
            start=business_slot(rng, first_day),
            minutes=rng.choice((30, 30, 60, 60, 90)),
            organizer=rng.choice(PEOPLE),
        )
        for index in range(count)
    ]


def ics(room: Room, meeting: Meeting, partstat: str, stamp: datetime) -> bytes:
    end = meeting.start + timedelta(minutes=meeting.minutes)
    who = meeting.organizer
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Calendar App//EN\r\n"
        f"{VTIMEZONE}BEGIN:VEVENT\r\nUID:{meeting.uid}\r\n"
        f"DTSTAMP:{stamp.astimezone(UTC):%Y%m%dT%H%M%S}Z\r\nSEQUENCE:{meeting.sequence}\r\n"
        f"DTSTART;TZID={ZONE}:{meeting.start:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID={ZONE}:{end:%Y%m%dT%H%M%S}\r\n"
        f"SUMMARY:Meeting {meeting.uid}\r\n"
        f"ORGANIZER;CN={who.title()}:mailto:{who}@example.com\r\n"
        f"ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED:mailto:{who}@example.com\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT={partstat};CN={room.name}:mailto:{room.address}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def write_storage(
    folder: Path, fleet: list[Room], entries: int, first_day: date, answered: bool
) -> dict[str, list[Meeting]]:
    """Write every room's calendar into a Radicale storage folder; the meetings by room."""
    partstat = "ACCEPTED" if answered else "NEEDS-ACTION"
    stamp = datetime.combine(first_day, time(6), tzinfo=UTC)
    written = {}
    for room in fleet:
        collection = folder / "collection-root" / room.calendar.strip("/")
        collection.mkdir(parents=True)
        props = {"tag": "VCALENDAR", "D:displayname": room.name}
        (collection / ".Radicale.props").write_text(json.dumps(props, sort_keys=True))
        written[room.name] = meetings(room, entries, first_day)
        for meeting in written[room.name]:
            (collection / meeting.file_name).write_bytes(ics(room, meeting, partstat, stamp))
    return written


@dataclass(frozen=True)
class Change:
    """One organizer's change on the server: what the room's reservation must become."""

    kind: str  # "edit", "delete" or "new"
    room: Room
    uid: str
    span: tuple[datetime, datetime] | None  # None for a deletion


class Organizers:
    """The people who book the rooms in their calendar clients, writing to the server."""

    KINDS = ("edit", "edit", "edit", "edit", "delete", "delete", "new", "new", "new", "new")

    def __init__(
        self, url: str, calendars: dict[str, list[Meeting]], first_day: date, seed: int
    ) -> None:
        self.url = url
        self.first_day = first_day
        self.live = {name: {m.uid: m for m in found} for name, found in calendars.items()}
        self.rng = random.Random(seed)
        self.created = 0
        self.client = httpx.Client(timeout=60)

    def close(self) -> None:
        self.client.close()

    def change(self, room: Room, busy: set[str]) -> Change:
        """Make one change in `room`'s calendar, leaving alone the entries in `busy`."""
        live = self.live[room.name]
        free = [uid for uid in live if uid not in busy]
        kind = self.rng.choice(self.KINDS) if free else "new"
        if kind == "new":
            self.created += 1
            meeting = Meeting(
                uid=f"fleet-{room.number:04d}-new{self.created:05d}",
                start=business_slot(self.rng, self.first_day),
                minutes=self.rng.choice((30, 60, 90)),
                organizer=self.rng.choice(PEOPLE),
            )
            self._put(room, meeting, {"If-None-Match": "*"})
            live[meeting.uid] = meeting
            return Change("new", room, meeting.uid, meeting.span_utc())
        uid = self.rng.choice(sorted(free))
        if kind == "delete":
            self._send("DELETE", room, live.pop(uid), {})
            return Change("delete", room, uid, None)
        # A moved meeting: another slot, SEQUENCE+1, and the room is asked again.
        moved = replace(
            live[uid],
            start=business_slot(self.rng, self.first_day),
            sequence=live[uid].sequence + 1,
        )
        self._put(room, moved, {})
        live[uid] = moved
        return Change("edit", room, uid, moved.span_utc())

    def _put(self, room: Room, meeting: Meeting, headers: dict[str, str]) -> None:
        body = ics(room, meeting, "NEEDS-ACTION", datetime.now(UTC))
        headers = {"Content-Type": "text/calendar; charset=utf-8", **headers}
        self._send("PUT", room, meeting, headers, body)

    def _send(
        self,
        method: str,
        room: Room,
        meeting: Meeting,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> None:
        href = f"{self.url}{room.calendar}{meeting.file_name}"
        answer = self.client.request(method, href, headers=headers, content=body)
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {href}: {answer.status_code} {answer.text[:200]}")
