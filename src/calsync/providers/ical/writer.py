"""iCalendar for outbound writes: `render_reservation(...)` and `with_room_partstat(...)`.

Follows RFC 5545: a timed event is written in the item's zone (TZID plus the matching
VTIMEZONE, §3.6.5) so that clients show it in local time and recurrence rules added
later keep wall time; an all-day event is a DATE pair with an exclusive end (§3.6.1).
The room takes part as an ATTENDEE with CUTYPE=ROOM and ROLE=NON-PARTICIPANT whose
PARTSTAT carries the room's decision (RFC 5545 §3.2.12, RFC 5546 §3.2.3).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from icalendar import Calendar, Event, vCalAddress

from calsync.errors import InvalidCalendarData
from calsync.providers.ical.reader import parse_calendar
from calsync.providers.ical.timezones import resolve_zone

PRODID = "-//calsync//calsync//EN"


def render_reservation(
    uid: str,
    start: datetime,
    end: datetime,
    all_day: bool,
    zone: str,
    summary: str,
    organizer: str,
    room_address: str,
    room_name: str,
    sequence: int,
    partstat: str,
    dtstamp: datetime,
) -> bytes:
    """A VCALENDAR with one VEVENT for a reservation of the room, as UTF-8 bytes."""
    for name, value in (("start", start), ("end", end), ("dtstamp", dtstamp)):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    local_zone = resolve_zone(zone)
    event = Event()
    event.add("UID", uid)
    event.add("DTSTAMP", dtstamp.astimezone(UTC))
    if all_day:
        event.add("DTSTART", start.astimezone(local_zone).date())
        event.add("DTEND", end.astimezone(local_zone).date())
    else:
        event.add("DTSTART", wall_time(start, local_zone))
        event.add("DTEND", wall_time(end, local_zone))
    event.add("SUMMARY", summary)
    event.add("SEQUENCE", sequence)
    if organizer:
        event.add("ORGANIZER", _mailto(organizer, {}))
    event.add("ATTENDEE", _room(room_address, room_name, partstat))
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    if not all_day:
        calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def with_room_partstat(data: bytes, room_address: str, partstat: str) -> bytes:
    """`data` with the room's PARTSTAT set on every VEVENT (adding the room if missing)."""
    calendar = parse_calendar(data)
    events = [c for c in calendar.subcomponents if isinstance(c, Event)]
    if not events:
        raise InvalidCalendarData("calendar object holds no VEVENT")
    for event in events:
        set_room_partstat(event, room_address, partstat)
    return bytes(calendar.to_ical())


def set_room_partstat(event: Event, room_address: str, partstat: str) -> None:
    """The room's PARTSTAT on one VEVENT (the room added as attendee if missing)."""
    room = _bare(room_address)
    matching = [a for a in _attendee_list(event) if _bare(str(a)) == room]
    for attendee in matching:
        attendee.params["PARTSTAT"] = partstat.upper()
    if not matching:
        event.add("ATTENDEE", _room(room_address, "", partstat))


def wall_time(instant: datetime, zone: tzinfo) -> datetime:
    """The instant in `zone`, or in UTC when its local time is the second of a DST overlap.

    A reader takes a repeated local time as its first occurrence (RFC 5545 §3.3.5).
    """
    local = instant.astimezone(zone)
    if local.replace(fold=0).astimezone(UTC) != instant:
        return instant.astimezone(UTC)
    return local


def _bare(address: str) -> str:
    text = address.strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    return text.lower()


def _mailto(address: str, params: dict[str, str]) -> vCalAddress:
    value = vCalAddress(f"mailto:{_bare(address)}")
    for key, text in params.items():
        value.params[key] = text
    return value


def _room(address: str, name: str, partstat: str) -> vCalAddress:
    params = {"CUTYPE": "ROOM", "ROLE": "NON-PARTICIPANT", "PARTSTAT": partstat.upper()}
    if name:
        params["CN"] = name
    return _mailto(address, params)


def _attendee_list(event: Event) -> list[Any]:
    value: Any = event.get("ATTENDEE")
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
