"""Changes calsync makes to calendar objects that someone else wrote.

`cancel_occurrence(data, recurrence_id, dtstamp)`, `reschedule(data, ...)` and
`decline_occurrences(data, room_address, recurrence_ids)` edit the
object in place, so that attendees, descriptions and everything calsync does not own
stay as the organizer wrote them. A reservation that mirrors one occurrence of a series
never replaces the series: cancelling it adds an EXDATE to the master and drops the
occurrence's override (RFC 5545 §3.8.5.1); moving it writes an override carrying its
RECURRENCE-ID (§3.8.4.4). Each significant change raises SEQUENCE (§3.8.7.4).

An override with RANGE=THISANDFUTURE (§3.8.4.4) also moves every later instance, so an
edit of its own occurrence must not touch it as if it were a one-off: cancelling keeps
it (the EXDATE takes its occurrence away, the range still governs the later ones), and
moving hands the range on to the next instance it governs, so that only the occurrence
calsync mirrors moves.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from icalendar import Calendar, Event
from icalendar.prop import vDDDTypes

from calsync.domain.entries import Occurrence, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.reader import parse_calendar, read_calendar_object
from calsync.providers.ical.timezones import resolve_zone
from calsync.providers.ical.writer import set_room_partstat, wall_time

_SERIES_ONLY = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def cancel_occurrence(data: bytes, recurrence_id: datetime, dtstamp: datetime) -> bytes | None:
    """The object without its occurrence `recurrence_id`, or None: delete the object.

    With a master: an EXDATE for the occurrence, and its override dropped unless it
    carries RANGE=THISANDFUTURE (then it stays, to keep moving the later instances).
    Without a master (a calendar service may hand over only the instances a room was
    invited to), the occurrence's override is dropped; None means nothing else is left
    in the object, and the caller deletes the object instead of writing it.
    """
    calendar = parse_calendar(data)
    master = _master_or_none(calendar)
    for override in _overrides_of(calendar, recurrence_id):
        if master is None or not _is_this_and_future(override):
            calendar.subcomponents.remove(override)
    if master is None:
        return bytes(calendar.to_ical()) if _events(calendar) else None
    master.add("EXDATE", _like_start(master, recurrence_id))
    _revise(master, dtstamp)
    return bytes(calendar.to_ical())


def decline_occurrences(
    data: bytes, room_address: str, recurrence_ids: tuple[datetime, ...]
) -> bytes:
    """The room declines these occurrences of an accepted series, one by one: each one's
    override (written where there is none, at the occurrence's own time) shows the room
    DECLINED. An answer is not a significant change: SEQUENCE stays (RFC 5546 §2.1.4)."""
    calendar = parse_calendar(data)
    master = _master_or_none(calendar)
    for recurrence_id in recurrence_ids:
        target = next(iter(_overrides_of(calendar, recurrence_id)), None)
        if target is None:
            if master is None:
                continue  # an occurrence the object does not hold: nothing to answer
            target = _new_override(calendar, master, recurrence_id)
            length = _length(master)
            target.add("DTSTART", _like_start(master, recurrence_id))
            target.add("DTEND", _like_start(master, recurrence_id + length))
        set_room_partstat(target, room_address, "DECLINED")
    return bytes(calendar.to_ical())


def _length(master: Event) -> timedelta:
    start = master.decoded("DTSTART")
    if "DTEND" in master:
        return master.decoded("DTEND") - start  # type: ignore[no-any-return]
    if "DURATION" in master:
        return master.decoded("DURATION")  # type: ignore[no-any-return]
    return timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)


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
    local = resolve_zone(zone)
    all_day = not isinstance(master.decoded("DTSTART"), datetime)
    if recurrence_id is None:
        target = master
    else:
        target = next(iter(_overrides_of(calendar, recurrence_id)), None) or _new_override(
            calendar, master, recurrence_id
        )
        if _is_this_and_future(target):
            _hand_on_range(calendar, master, target, data, zone, dtstamp)
    _place(target, start, end, local, all_day)
    target.pop("SUMMARY", None)
    target.add("SUMMARY", summary)
    _revise(target, dtstamp, master)
    if not all_day:
        calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def _place(event: Event, start: datetime, end: datetime, local: tzinfo, all_day: bool) -> None:
    for name, instant in (("DTSTART", start), ("DTEND", end)):
        event.pop(name, None)
        event.add(name, instant.astimezone(local).date() if all_day else wall_time(instant, local))
    event.pop("DURATION", None)


def _is_this_and_future(event: Event) -> bool:
    prop = event.get("RECURRENCE-ID")
    return prop is not None and str(prop.params.get("RANGE", "")).upper() == "THISANDFUTURE"


def _hand_on_range(
    calendar: Calendar, master: Event, override: Event, data: bytes, zone: str, dtstamp: datetime
) -> None:
    """Make `override` a one-off, and its range start at the next instance it governs.

    That instance gets a THISANDFUTURE override of its own, a copy of `override` at the
    time the range gave it (as the reader computes it), so that it and every later
    instance stay where the organizer put them. With no such instance the range ends.
    """
    prop: Any = override["RECURRENCE-ID"]
    plain = vDDDTypes(prop.dt)
    plain.params.update({k: v for k, v in prop.params.items() if k.upper() != "RANGE"})
    override["RECURRENCE-ID"] = plain
    following = _next_governed(data, zone, _instant(prop.dt), override)
    if following is None:
        return
    carried = override.copy()
    carried.pop("RECURRENCE-ID")
    carried.add("RECURRENCE-ID", _like_start(master, following.recurrence_id or following.start))
    carried["RECURRENCE-ID"].params["RANGE"] = "THISANDFUTURE"
    local = resolve_zone(zone)
    _place(carried, following.start, following.end, local, following.all_day)
    _revise(carried, dtstamp, master)
    calendar.add_component(carried)


def _next_governed(
    data: bytes, zone: str, governed_from: datetime, override: Event
) -> Occurrence | None:
    """The first instance after `governed_from` that the range moves: no override of its
    own, not excluded, before the next THISANDFUTURE override. Looked for within a year
    of the moved occurrence (a range moves instances by up to a year)."""
    moved = _instant(_decoded(override, "DTSTART"))
    window = Window(moved - timedelta(days=1), moved + timedelta(days=400))
    read = read_calendar_object(data, zone, window)
    overridden = {entry.recurrence_id for entry in read.entries[1:]}
    ranges_after = [
        entry.recurrence_id
        for entry in read.entries[1:]
        if entry.this_and_future and entry.recurrence_id and entry.recurrence_id > governed_from
    ]
    until = min(ranges_after, default=None)
    governed = [
        occurrence
        for occurrence in read.occurrences
        if occurrence.recurrence_id is not None
        and occurrence.recurrence_id > governed_from
        and occurrence.recurrence_id not in overridden
        and (until is None or occurrence.recurrence_id < until)
    ]
    return min(governed, key=lambda o: o.recurrence_id or o.start, default=None)


def _events(calendar: Calendar) -> list[Event]:
    return [c for c in calendar.subcomponents if isinstance(c, Event)]


def _master_or_none(calendar: Calendar) -> Event | None:
    for event in _events(calendar):
        if "RECURRENCE-ID" not in event:
            return event
    return None


def _master(calendar: Calendar) -> Event:
    master = _master_or_none(calendar)
    if master is None:
        raise InvalidCalendarData("the calendar object has no master VEVENT to edit")
    return master


def _decoded(event: Event, name: str) -> Any:
    return event.decoded(name)


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
            # A copy: the override's properties (its attendees' PARTSTAT) change alone.
            override.add(name, copy.deepcopy(value), encode=False)
    override.add("RECURRENCE-ID", _like_start(master, recurrence_id))
    calendar.add_component(override)
    return override


def _revise(event: Event, dtstamp: datetime, series: Event | None = None) -> None:
    """Raise SEQUENCE past the event's own and, for an override, its series' (an override
    without one has the master's)."""
    floor = int(series.get("SEQUENCE", 0)) if series is not None else 0
    sequence = max(int(event.get("SEQUENCE", 0)), floor) + 1
    for name in ("SEQUENCE", "DTSTAMP"):
        event.pop(name, None)
    event.add("SEQUENCE", sequence)
    event.add("DTSTAMP", dtstamp.astimezone(UTC))
