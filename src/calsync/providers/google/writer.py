"""Request bodies of the Google adapter's writes: a booking as an event, and the fields a
room answer or an occurrence move patches (events resource:
https://developers.google.com/calendar/api/v3/reference/events).

- A booking is created under an id of calsync's own, derived from its UID (`event_id`):
  base32hex, as Google requires of a client-supplied id, so a create that already landed
  answers 409 at the same id instead of making a second event (PROVIDERS.md §1.3).
- The room takes part as an attendee with `resource: true`, its decision being its
  `responseStatus`; calsync's writes carry the private extended property `calsync` (and
  the UID as `calsyncUid`), by which they are told apart from anyone else's.
- A timed event is written as wall time in the item's zone, with its offset and
  `timeZone`; an all-day one as dates in that zone, the end date exclusive.
- A room answer is a patch of the whole `attendees` array (Google's patch replaces
  arrays), built from the event at the version answered: everyone else's entry as it was;
  of an event shown with `attendeesOmitted`, the room's entry alone, so flagged.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calsync.providers.base import Booking, OccurrenceMove
from calsync.providers.ical.timezones import resolve_zone

#: The private extended property that marks calsync's own writes.
MARK = "calsync"
UID_PROPERTY = "calsyncUid"
#: The domain's PARTSTAT names by Google's `responseStatus`.
RESPONSE_STATUSES = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needsAction",
}


def event_id(uid: str) -> str:
    """The id calsync gives the event of `uid`: 32 base32hex characters (a-v, 0-9) of its
    SHA-256, the same on every try."""
    digest = hashlib.sha256(uid.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower().rstrip("=")[:32]


def room_answer(event: dict[str, Any], room_address: str) -> str | None:
    """The room's answer in `event` as the domain names it; None while it has none."""
    address = room_address.lower()
    for attendee in event.get("attendees") or []:
        if isinstance(attendee, dict) and str(attendee.get("email", "")).lower() == address:
            answer = {v: k for k, v in RESPONSE_STATUSES.items()}.get(
                str(attendee.get("responseStatus", ""))
            )
            return None if answer in (None, "NEEDS-ACTION") else answer
    return None


def booking_body(booking: Booking) -> dict[str, Any]:
    """The whole event calsync writes for `booking` (events.insert and events.update)."""
    body: dict[str, Any] = {
        "id": event_id(booking.uid),
        "iCalUID": booking.uid,
        "summary": booking.subject,
        "start": event_time(booking.start, booking.all_day, booking.zone),
        "end": event_time(booking.end, booking.all_day, booking.zone),
        "sequence": booking.sequence,
        "attendees": [
            {
                "email": booking.room_address,
                "displayName": booking.room_name,
                "resource": True,
                # The room answers itself (Capabilities.room_decides): calsync asks.
                "responseStatus": "needsAction",
            }
        ],
        "extendedProperties": {"private": {MARK: "1", UID_PROPERTY: booking.uid}},
    }
    if booking.organizer:
        # Informative: through the API the organizer is whoever creates the event.
        body["organizer"] = {"email": booking.organizer}
    return body


def event_time(moment: datetime, all_day: bool, zone: str) -> dict[str, str]:
    """`start`/`end` for a UTC instant: the day in `zone`, or its wall time there."""
    if moment.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got {moment!r}")
    local_zone = resolve_zone(zone)
    local = moment.astimezone(local_zone)
    if all_day:
        return {"date": local.date().isoformat()}
    name = local_zone.key if isinstance(local_zone, ZoneInfo) else zone
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": name}


def answer_fields(event: dict[str, Any], room_address: str, partstat: str) -> dict[str, Any]:
    """The patch that answers as the room. An event read whole: its attendees with the
    room's answer (Google's patch replaces the array). An event read with
    `attendeesOmitted` (a guest list cut short by `maxAttendees` or by the reader's
    rights): only the room's entry, with `attendeesOmitted: true`, Google's way to update
    one participant's response; the whole list would drop every guest not shown."""
    attendees = answered_attendees(event, room_address, partstat)
    if event.get("attendeesOmitted") is not True:
        return {"attendees": attendees}
    room = room_address.strip().lower()
    own = [a for a in attendees if str(a.get("email", "")).strip().lower() == room]
    return {"attendeesOmitted": True, "attendees": own}


def answered_attendees(
    event: dict[str, Any], room_address: str, partstat: str
) -> list[dict[str, Any]]:
    """The event's attendees with the room's answer set (the room added if missing)."""
    status = RESPONSE_STATUSES.get(partstat.upper())
    if status is None:
        raise ValueError(f"a room answers ACCEPTED, DECLINED or TENTATIVE, not {partstat!r}")
    given = event.get("attendees")
    attendees = [dict(a) for a in given if isinstance(a, dict)] if isinstance(given, list) else []
    room = room_address.strip().lower()
    found = False
    for attendee in attendees:
        email = attendee.get("email")
        if isinstance(email, str) and email.strip().lower() == room:
            attendee["responseStatus"] = status
            found = True
    if not found:
        attendees.append({"email": room_address, "resource": True, "responseStatus": status})
    return attendees


def moved_fields(event: dict[str, Any], move: OccurrenceMove) -> dict[str, Any]:
    """The patch that moves an event (one instance) to the move's span: dates if the
    event is all-day, else wall times in the move's zone; the summary if it changed."""
    start = event.get("start")
    all_day = isinstance(start, dict) and start.get("date") is not None
    fields: dict[str, Any] = {
        "start": _replacing(event_time(move.start, all_day, move.zone)),
        "end": _replacing(event_time(move.end, all_day, move.zone)),
    }
    if move.subject and move.subject != event.get("summary"):
        fields["summary"] = move.subject
    return fields


def _replacing(time: dict[str, str]) -> dict[str, Any]:
    """A time for a patch: objects merge in a patch, so the other form is set to null."""
    if "date" in time:
        return {**time, "dateTime": None, "timeZone": None}
    return {"date": None, **time}
