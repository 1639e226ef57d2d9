"""Event bodies as Google validates and completes them on insert, update and patch.

Follows the events resource reference
(https://developers.google.com/calendar/api/v3/reference/events):

- client ids are base32hex (`a-v`, `0-9`), 5 to 1024 characters;
- `start`/`end` both `date` or both `dateTime`, end not before start (`timeRangeEmpty`);
  a recurring master needs `start.timeZone`;
- `organizer`, `creator`, `created`, `updated`, `etag`, `htmlLink` are read-only ("except
  when importing"); `iCalUID` is kept from creation on;
- an attendee's `resource` "can only be set when the attendee is added to the event for
  the first time"; `self` marks the calendar's own attendee;
- `sequence` grows when the time or the recurrence changes, and a lower one is refused;
- patch merges objects and replaces arrays (Google's patch semantics).
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
from dataclasses import dataclass
from typing import Any

from .calendar import Calendar, Event
from .errors import invalid, required, time_range_empty
from .times import EventTime, parse_event_time

BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_CLIENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
STATUSES = ("confirmed", "tentative", "cancelled")
RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")
#: Never taken from a request body.
COMPUTED = {"kind", "etag", "updated", "htmlLink", "id"}
#: Taken from the test side ("importing"), ignored through the API.
IMPORT_ONLY = {"organizer", "creator", "created", "recurringEventId", "originalStartTime"}


@dataclass(frozen=True)
class Author:
    """Who writes: through the API as `email`, or the test behind the client's back."""

    email: str
    api: bool


def new_event_id() -> str:
    return "".join(secrets.choice(BASE32HEX) for _ in range(26))


def check_client_id(event_id: Any) -> str:
    if not isinstance(event_id, str) or not _CLIENT_ID.match(event_id):
        raise invalid("Invalid resource id value.", location="id")
    return event_id


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Google's patch: objects merge, arrays and scalars replace, null removes.

    Setting one of `date`/`dateTime` in a time object drops the other, so that a patch can
    turn a timed event into an all-day one without spelling out the null.
    """
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            merged = merge_patch(result[key], value)
            for one, other in (("date", "dateTime"), ("dateTime", "date")):
                if value.get(one) and other not in value:
                    merged.pop(other, None)
            result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def build_event(
    calendar: Calendar,
    raw: Any,
    *,
    event_id: str,
    previous: Event | None,
    author: Author,
) -> Event:
    """The complete event to store for request body `raw` (insert, update or patch result)."""
    if not isinstance(raw, dict):
        raise invalid("The request body must be a JSON object.")
    ignored = COMPUTED | (IMPORT_ONLY if author.api else set())
    event = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ignored and v is not None}
    event["kind"] = "calendar#event"
    event["id"] = event_id
    for kept in ("recurringEventId", "originalStartTime", "created", "creator", "iCalUID"):
        if previous and kept in previous:
            event[kept] = copy.deepcopy(previous[kept])
    event.setdefault("iCalUID", f"{event_id}@google.com")
    event.setdefault("status", "confirmed")
    if event["status"] not in STATUSES:
        raise invalid("Invalid value for status.", location="status")
    event["organizer"] = _organizer(calendar, event, previous, author)
    event.setdefault("creator", {"email": author.email})
    _check_times(calendar, event)
    if "attendees" in event:
        event["attendees"] = _attendees(event, calendar.id, previous)
    _check_extended_properties(event.get("extendedProperties"))
    event["sequence"] = _sequence(event, previous)
    event.setdefault("reminders", {"useDefault": True})
    event.setdefault("eventType", "default")
    event["htmlLink"] = _html_link(calendar.id, event_id)
    return event


def _organizer(
    calendar: Calendar, event: Event, previous: Event | None, author: Author
) -> dict[str, Any]:
    """The calendar the event was created on, unless imported with another organizer."""
    if not author.api and isinstance(event.get("organizer"), dict):
        organizer = dict(event["organizer"])
    elif previous and "organizer" in previous:
        organizer = dict(previous["organizer"])
    else:
        organizer = {"email": calendar.id, "displayName": calendar.summary}
    organizer.pop("self", None)
    if organizer.get("email", "").lower() == calendar.id.lower():
        organizer["self"] = True
    return organizer


def _check_times(calendar: Calendar, event: Event) -> None:
    start = parse_event_time(event.get("start"), "start", calendar.zone)
    end = parse_event_time(event.get("end"), "end", calendar.zone)
    if start.all_day != end.all_day:
        raise invalid("Start and end times must either both be date or both be dateTime.")
    if _ends_before_start(start, end, calendar):
        raise time_range_empty()
    if event.get("recurrence") is not None:
        _check_recurrence(calendar, event, start)
    event["start"], event["end"] = start.to_json(), end.to_json()


def _ends_before_start(start: EventTime, end: EventTime, calendar: Calendar) -> bool:
    if start.all_day:
        return end.value <= start.value
    return end.instant(calendar.zone) < start.instant(calendar.zone)


def _check_recurrence(calendar: Calendar, event: Event, start: EventTime) -> None:
    lines = event["recurrence"]
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise invalid("Invalid recurrence rule.")
    if not lines:
        del event["recurrence"]
        return
    if event.get("recurringEventId"):
        raise invalid("An exception of a recurring event cannot recur itself.")
    if not start.all_day and not start.time_zone:
        raise invalid("Missing time zone definition for start time.")
    calendar.series(event)  # raises 400 on an unreadable rule


def _attendees(event: Event, calendar_id: str, previous: Event | None) -> list[dict[str, Any]]:
    raw = event["attendees"]
    if not isinstance(raw, list):
        raise invalid("Invalid attendees.", location="attendees")
    before = {a["email"].lower(): a for a in (previous or {}).get("attendees", []) if "email" in a}
    organizer = event["organizer"].get("email", "").lower()
    attendees = []
    for given in raw:
        if not isinstance(given, dict) or not isinstance(given.get("email"), str):
            raise required("Missing attendee email.")
        attendee = dict(given)
        email = attendee["email"].lower()
        attendee.setdefault("responseStatus", "needsAction")
        if attendee["responseStatus"] not in RESPONSE_STATUSES:
            raise invalid("Invalid attendee responseStatus.", location="attendees")
        resource = before[email].get("resource") if email in before else given.get("resource")
        for flag, value in (
            ("resource", bool(resource)),
            ("self", email == calendar_id.lower()),
            ("organizer", email == organizer),
        ):
            attendee.pop(flag, None)
            if value:
                attendee[flag] = True
        attendees.append(attendee)
    return attendees


def _check_extended_properties(properties: Any) -> None:
    if properties is None:
        return
    if not isinstance(properties, dict) or set(properties) - {"private", "shared"}:
        raise invalid("Invalid extendedProperties.", location="extendedProperties")
    for scope in properties.values():
        if not isinstance(scope, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in scope.items()
        ):
            raise invalid("Invalid extendedProperties.", location="extendedProperties")


def _sequence(event: Event, previous: Event | None) -> int:
    current = int(previous.get("sequence", 0)) if previous else 0
    given = event.get("sequence")
    if given is not None and (not isinstance(given, int) or given < current):
        raise invalid(
            "Invalid sequence value. The specified sequence number is below the current "
            "sequence number of the resource.",
            location="sequence",
        )
    sequence = current if given is None else given
    if previous is not None and sequence == current and times_changed(previous, event):
        sequence += 1
    return sequence


def times_changed(before: Event, after: Event) -> bool:
    return any(before.get(key) != after.get(key) for key in ("start", "end", "recurrence"))


def _html_link(calendar_id: str, event_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"
