"""The normalized calendar entry: what a calendar service said, in provider-neutral form.

A calendar object (one CalDAV resource, one Google event with its instances, one EWS
recurring master) is read into a `CalendarObject`: its VEVENTs as `CalendarEntry` values
(master first, then overrides) and its `Occurrence`s within the synchronization window.
Each occurrence becomes one reservation; its identity is `OccurrenceKey` (UID +
RECURRENCE-ID as a UTC instant, RFC 5546 §2.1.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Window:
    """A half-open span of time [start, end) in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Attendee:
    address: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"
    cutype: str = "INDIVIDUAL"


@dataclass(frozen=True)
class CalendarEntry:
    """One VEVENT: a single meeting, a series master or one override of a series."""

    uid: str
    recurrence_id: datetime | None
    sequence: int
    dtstamp: datetime | None
    summary: str
    organizer: str
    attendees: tuple[Attendee, ...]
    start: datetime
    end: datetime
    all_day: bool
    status: str
    recurring: bool
    #: An override with RANGE=THISANDFUTURE: it changes every later instance too.
    this_and_future: bool = False


OccurrenceKey = tuple[str, datetime | None]


@dataclass(frozen=True)
class Occurrence:
    """One instance in time of an entry: what one reservation mirrors.

    `recurrence_id` is the original start of the instance as a UTC instant, or None for
    an entry that does not recur. Start and end are UTC instants; an all-day occurrence
    starts and ends at midnight in the item's time zone.
    """

    uid: str
    recurrence_id: datetime | None
    start: datetime
    end: datetime
    all_day: bool
    summary: str
    organizer: str
    sequence: int

    @property
    def key(self) -> OccurrenceKey:
        return (self.uid, self.recurrence_id)


@dataclass(frozen=True)
class CalendarObject:
    """Everything one calendar object resource holds: entries sharing one UID."""

    uid: str
    entries: tuple[CalendarEntry, ...]
    occurrences: tuple[Occurrence, ...]

    @property
    def master(self) -> CalendarEntry:
        return self.entries[0]
