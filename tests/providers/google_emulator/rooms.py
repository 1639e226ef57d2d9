"""A room that decides for itself, as a Workspace resource calendar with auto-accept does.

A booking is the room added as an attendee (`resource: true`); the room's decision is
that attendee's `responseStatus` (shared/PROVIDERS.md §1.2). Modes:

- `accept_unless_busy`: accepted, unless the event overlaps another live event on the
  room's calendar that the room accepted: then declined (a series is declined as a whole
  when any of its instances collides);
- `decline_all`: declined;
- `ignore`: the answer is left as sent (needsAction): the room silently drops it.

Google does not document the exact auto-accept rules (**unverified** in PROVIDERS.md);
these are the simplest ones that let a test tell accepted, declined and silence apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .calendar import Calendar, Event, is_cancelled, is_master
from .times import EventTime, parse_event_time

Mode = Literal["accept_unless_busy", "decline_all", "ignore"]
MODES = ("accept_unless_busy", "decline_all", "ignore")
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class RoomRule:
    room_email: str
    mode: Mode

    def decide(self, calendar: Calendar, event: Event) -> None:
        attendee = _attendee(event, self.room_email)
        if attendee is None or self.mode == "ignore" or is_cancelled(event):
            return
        if self.mode == "decline_all" or _busy(calendar, event, self.room_email):
            attendee["responseStatus"] = "declined"
        else:
            attendee["responseStatus"] = "accepted"


def _attendee(event: Event, email: str) -> dict[str, Any] | None:
    for attendee in event.get("attendees", []):
        if attendee.get("email", "").lower() == email.lower():
            return attendee  # type: ignore[no-any-return]
    return None


def _busy(calendar: Calendar, event: Event, room: str) -> bool:
    mine = _spans(calendar, event)
    if not mine:
        return False
    for other in calendar.events.values():
        if _is_same_booking(event, other) or is_cancelled(other):
            continue
        answer = _attendee(other, room)
        if answer is None or answer.get("responseStatus") != "accepted":
            continue
        skip = (
            {calendar.suffix_of(event)} if event.get("recurringEventId") == other["id"] else set()
        )
        if any(_overlap(a, b) for a in mine for b in _spans(calendar, other, skip)):
            return True
    return False


def _is_same_booking(event: Event, other: Event) -> bool:
    return event["id"] in (other["id"], other.get("recurringEventId"))


def _spans(calendar: Calendar, event: Event, skip: set[str] | None = None) -> list[Span]:
    """The times an event occupies: its own, or each live instance of a series."""
    zone = calendar.zone
    if not is_master(event):
        start = parse_event_time(event["start"], "start", zone).instant(zone)
        end = parse_event_time(event["end"], "end", zone).instant(zone)
        return [(start, end)]
    taken = set(calendar.exceptions(event["id"])) | (skip or set())
    spans = []
    for occurrence in calendar.series(event).occurrences():
        if occurrence.suffix not in taken:
            spans.append(
                (EventTime(occurrence.start).instant(zone), EventTime(occurrence.end).instant(zone))
            )
    return spans


def _overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]
