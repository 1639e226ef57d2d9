"""Reading one Google Calendar event into a `CalendarObject`: `read_event(payload, zone, window)`.

The payload is one item of `events.list` or the answer of `events.get`, as JSON text
(events resource: https://developers.google.com/calendar/api/v3/reference/events). The
adapter lists with `singleEvents=true`, so each occurrence of a series is an event of its
own: one event is one entry and at most one occurrence. An instance names its series by
`recurringEventId` and its original start by `originalStartTime`, which becomes the
entry's RECURRENCE-ID; all instances share the series' `iCalUID` (PROVIDERS.md §1.2).

Times become UTC instants as the iCalendar reader makes them: `dateTime` at its offset
(or in its `timeZone` when it has none), an all-day `date` at midnight of the item's zone
with an exclusive end date. A series master (with `recurrence`), which `singleEvents`
should never show, is read as its first instance and not expanded.

Whatever is wrong with the payload (not JSON, no start, an end before the start, an
unknown time zone, over 1 MB) ends as `InvalidCalendarData` saying what; no other error
leaves `read_event`, which a pool of processes runs (it is a module-level function).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from calsync.domain.entries import Attendee, CalendarEntry, CalendarObject, Occurrence, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.timezones import resolve_zone

MAX_EVENT_BYTES = 1_000_000
_STATUSES = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}
#: Google's `responseStatus` by the RFC 5545 PARTSTAT names the domain uses.
PARTSTATS = {
    "needsAction": "NEEDS-ACTION",
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
}
_SHOWN = 80


def read_event(payload: str, zone: str, window: Window) -> CalendarObject:
    """One event as an entry, with its occurrence if it overlaps `window`."""
    try:
        return _read(payload, zone, window)
    except InvalidCalendarData:
        raise
    except (OverflowError, ValueError, TypeError, LookupError, RecursionError) as error:
        raise InvalidCalendarData(f"unreadable Google event: {_short(str(error))}") from error
    except Exception as error:  # a reader fails its one event, never its caller
        raise InvalidCalendarData(
            f"unreadable Google event: {type(error).__name__}: {_short(str(error))}"
        ) from error


def event_uid(data: bytes) -> str:
    """The iCalUID an event's payload carries (its id when it has none)."""
    event = parse_event(data.decode("utf-8", "replace"))
    return _uid(event)


def parse_event(payload: str) -> dict[str, Any]:
    """The event's JSON object; InvalidCalendarData for anything else."""
    size = len(payload.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise InvalidCalendarData(f"Google event is {size} bytes, over the 1 MB limit")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError) as error:
        raise InvalidCalendarData(f"Google event is not JSON: {_short(str(error))}") from error
    if not isinstance(event, dict):
        raise InvalidCalendarData(f"Google event is a JSON {_json_type(event)}, not an object")
    return event


def _read(payload: str, zone: str, window: Window) -> CalendarObject:
    event = parse_event(payload)
    uid = _uid(event)
    label = f"Google event {_short(str(event.get('id') or uid))!r}"
    item_zone = resolve_zone(zone)
    try:
        entry = _entry(event, uid, item_zone)
    except InvalidCalendarData as error:
        raise InvalidCalendarData(f"{label}: {error.reason}") from error
    occurrences: tuple[Occurrence, ...] = ()
    if entry.status != "CANCELLED" and _overlaps(entry.start, entry.end, window):
        occurrences = (_occurrence(entry),)
    return CalendarObject(uid=uid, entries=(entry,), occurrences=occurrences)


def _uid(event: dict[str, Any]) -> str:
    for name in ("iCalUID", "id"):
        value = event.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise InvalidCalendarData("Google event has neither iCalUID nor id")


def _entry(event: dict[str, Any], uid: str, item_zone: tzinfo) -> CalendarEntry:
    start, all_day = _time(event, "start", item_zone)
    end, end_all_day = _time(event, "end", item_zone)
    if all_day != end_all_day:
        raise InvalidCalendarData("start and end are not both dates or both date-times")
    if end < start:
        raise InvalidCalendarData(f"end {end.isoformat()} is before start {start.isoformat()}")
    recurrence_id = None
    if event.get("originalStartTime") is not None:
        recurrence_id, _ = _time(event, "originalStartTime", item_zone)
    elif event.get("recurrence"):
        recurrence_id = start  # a master read as its first instance, whose original start it is
    return CalendarEntry(
        uid=uid,
        recurrence_id=recurrence_id,
        sequence=_sequence(event.get("sequence")),
        dtstamp=_updated(event.get("updated")),
        summary=_text(event, "summary"),
        organizer=_organizer(event.get("organizer")),
        attendees=_attendees(event.get("attendees")),
        start=start,
        end=end,
        all_day=all_day,
        status=_status(event.get("status")),
        recurring=False,
    )


def _occurrence(entry: CalendarEntry) -> Occurrence:
    return Occurrence(
        uid=entry.uid,
        recurrence_id=entry.recurrence_id,
        start=entry.start,
        end=entry.end,
        all_day=entry.all_day,
        summary=entry.summary,
        organizer=entry.organizer,
        sequence=entry.sequence,
    )


def _overlaps(start: datetime, end: datetime, window: Window) -> bool:
    """As the iCalendar reader decides it: an instant is in the window if it starts in it."""
    if start == end:
        return window.start <= start < window.end
    return start < window.end and end > window.start


# Times ---------------------------------------------------------------------------------


def _time(event: dict[str, Any], name: str, item_zone: tzinfo) -> tuple[datetime, bool]:
    """`start`, `end` or `originalStartTime` as a UTC instant, and whether it is a date."""
    value = event.get(name)
    if value is None:
        raise InvalidCalendarData(f"no {name}")
    if not isinstance(value, dict):
        raise InvalidCalendarData(f"{name} is a JSON {_json_type(value)}, not an object")
    given_date, given_time = value.get("date"), value.get("dateTime")
    if given_date is not None and given_time is not None:
        raise InvalidCalendarData(f"{name} has both date and dateTime")
    zone = _zone_of(value, name)
    if given_time is not None:
        moment = _datetime(given_time, name)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone or item_zone)
        return moment.astimezone(UTC), False
    if given_date is not None:
        day = _date(given_date, name)
        return datetime(day.year, day.month, day.day, tzinfo=item_zone).astimezone(UTC), True
    raise InvalidCalendarData(f"{name} has neither date nor dateTime")


def _zone_of(value: dict[str, Any], name: str) -> tzinfo | None:
    zone = value.get("timeZone")
    if zone is None:
        return None
    if not isinstance(zone, str):
        raise InvalidCalendarData(f"{name}.timeZone is not a string")
    try:
        return resolve_zone(zone)
    except InvalidCalendarData as error:
        raise InvalidCalendarData(f"{name}: {error.reason}") from error


def _datetime(text: Any, name: str) -> datetime:
    if not isinstance(text, str):
        raise InvalidCalendarData(f"{name}.dateTime is not a string")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCalendarData(
            f"{name}.dateTime {_short(text)!r} is not an RFC 3339 date-time"
        ) from None


def _date(text: Any, name: str) -> date:
    if not isinstance(text, str) or len(text) != 10:
        raise InvalidCalendarData(f"{name}.date {_short(str(text))!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidCalendarData(
            f"{name}.date {_short(text)!r} is not a date YYYY-MM-DD"
        ) from None


def _updated(text: Any) -> datetime | None:
    """When the event last changed; a broken value only loses the order (as DTSTAMP does)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Fields --------------------------------------------------------------------------------


def _sequence(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidCalendarData(f"sequence {_short(repr(value))} is not a whole number")
    return value


def _status(value: Any) -> str:
    if value is None:
        return "CONFIRMED"
    if not isinstance(value, str) or value not in _STATUSES:
        raise InvalidCalendarData(f"unknown status {_short(repr(value))}")
    return _STATUSES[value]


def _text(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidCalendarData(f"{name} is a JSON {_json_type(value)}, not a string")
    return value


def _organizer(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise InvalidCalendarData(f"organizer is a JSON {_json_type(value)}, not an object")
    email = value.get("email")
    return email.strip().lower() if isinstance(email, str) else ""


def _attendees(value: Any) -> tuple[Attendee, ...]:
    """The attendees that have an address (Google may leave it out of someone's)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidCalendarData(f"attendees is a JSON {_json_type(value)}, not an array")
    found = []
    for index, attendee in enumerate(value):
        if not isinstance(attendee, dict):
            raise InvalidCalendarData(f"attendee {index + 1} is not an object")
        email = attendee.get("email")
        if not isinstance(email, str) or not email.strip():
            continue
        answer = attendee.get("responseStatus", "needsAction")
        name = attendee.get("displayName")
        found.append(
            Attendee(
                address=email.strip().lower(),
                name=name if isinstance(name, str) else "",
                partstat=PARTSTATS.get(answer if isinstance(answer, str) else "", "NEEDS-ACTION"),
                cutype="ROOM" if attendee.get("resource") is True else "INDIVIDUAL",
            )
        )
    return tuple(found)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
