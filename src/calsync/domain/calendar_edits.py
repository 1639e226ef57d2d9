"""Changes calsync makes to calendar objects that someone else wrote.

`cancel_occurrence(data, recurrence_id, dtstamp)` and `reschedule(data, ...)` edit the
object in place, so that attendees, descriptions and everything calsync does not own
stay as the organizer wrote them. A reservation that mirrors one occurrence of a series
never replaces the series: cancelling it adds an EXDATE to the master and drops the
occurrence's override (RFC 5545 §3.8.5.1); moving it writes an override carrying its
RECURRENCE-ID (§3.8.4.4). Each significant change raises SEQUENCE (§3.8.7.4).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from icalendar import Calendar, Event

from calsync.domain.calendar_objects import parse_calendar
from calsync.domain.calendar_writing import wall_time
from calsync.domain.timezones import resolve_zone
from calsync.errors import InvalidCalendarData

_SERIES_ONLY = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def cancel_occurrence(data: bytes, recurrence_id: datetime, dtstamp: datetime) -> bytes:
    calendar = parse_calendar(data)
    master = _master(calendar)
    for override in _overrides_of(calendar, recurrence_id):
        calendar.subcomponents.remove(override)
    master.add("EXDATE", _like_start(master, recurrence_id))
    _revise(master, dtstamp)
    return bytes(calendar.to_ical())


def reschedule(
    data: bytes,
    recurrence_id: datetime | None,
    start: datetime,
    end: datetime,
    summary: str,
    zone: str,
    dtstamp: datetime,
) -> bytes:
    """Move (and rename) the meeting, or only the occurrence `recurrence_id` of a series."""
    calendar = parse_calendar(data)
    master = _master(calendar)
    if recurrence_id is None:
        target = master
    else:
        target = next(iter(_overrides_of(calendar, recurrence_id)), None) or _new_override(
            calendar, master, recurrence_id
        )
    local = resolve_zone(zone)
    all_day = not isinstance(master.decoded("DTSTART"), datetime)
    for name, instant in (("DTSTART", start), ("DTEND", end)):
        target.pop(name, None)
        target.add(name, instant.astimezone(local).date() if all_day else wall_time(instant, local))
    target.pop("DURATION", None)
    target.pop("SUMMARY", None)
    target.add("SUMMARY", summary)
    _revise(target, dtstamp)
    if not all_day:
        calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def _events(calendar: Calendar) -> list[Event]:
    return [c for c in calendar.subcomponents if isinstance(c, Event)]


def _master(calendar: Calendar) -> Event:
    for event in _events(calendar):
        if "RECURRENCE-ID" not in event:
            return event
    raise InvalidCalendarData("the calendar object has no master VEVENT to edit")


def _instant(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _overrides_of(calendar: Calendar, recurrence_id: datetime) -> list[Event]:
    return [
        event
        for event in _events(calendar)
        if "RECURRENCE-ID" in event
        and _instant(event.decoded("RECURRENCE-ID")) == recurrence_id.astimezone(UTC)
    ]


def _like_start(master: Event, instant: datetime) -> Any:
    """`instant` in the value type of the master's DTSTART (a DATE for all-day series)."""
    start = master.decoded("DTSTART")
    if not isinstance(start, datetime):
        return instant.astimezone(UTC).date()
    if start.tzinfo is not None:
        return instant.astimezone(start.tzinfo)
    return instant.astimezone(UTC)


def _new_override(calendar: Calendar, master: Event, recurrence_id: datetime) -> Event:
    override = Event()
    for name, value in master.property_items(recursive=False):
        if name not in ("BEGIN", "END", "DTSTART", "DTEND", "DURATION", *_SERIES_ONLY):
            override.add(name, value, encode=False)
    override.add("RECURRENCE-ID", _like_start(master, recurrence_id))
    calendar.add_component(override)
    return override


def _revise(event: Event, dtstamp: datetime) -> None:
    sequence = int(event.get("SEQUENCE", 0)) + 1
    for name in ("SEQUENCE", "DTSTAMP"):
        event.pop(name, None)
    event.add("SEQUENCE", sequence)
    event.add("DTSTAMP", dtstamp.astimezone(UTC))
