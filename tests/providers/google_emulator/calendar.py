"""One calendar's events and the change tracking behind sync tokens.

Every stored event (single event, recurring master, exception, cancelled tombstone) lives
in `Calendar.events` by id. A change bumps the calendar's change counter, records the
counter value on the event (`changed_at`) and gives the event a new `etag` and `updated`;
an incremental `events.list` returns the events changed after the counter value its sync
token holds. Deletion keeps the event with `status: "cancelled"`, because Google reports
deletions to incremental sync ("All events deleted since the previous list request will
always be in the result set", events.list reference).

Instances of a series are not stored: they are computed from the master (`recurrence`)
and its exceptions (events with `recurringEventId` and `originalStartTime`).
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .recurrence import Occurrence, Series, split_instance_id
from .times import event_time_or_none, rfc3339_ms

Event = dict[str, Any]


class Stamps:
    """Versions shared by every calendar of one emulator: etags and `updated` times.

    Etags are '"<n>"' with n growing on every change; `updated` times strictly increase
    (by at least a millisecond), so that `updatedMin` and ordering by `updated` are exact.
    """

    def __init__(self) -> None:
        self._etag = 0
        self._last = datetime(2000, 1, 1, tzinfo=UTC)

    def etag(self) -> str:
        self._etag += 1
        return f'"{self._etag}"'

    def now(self) -> str:
        self._last = max(datetime.now(UTC), self._last + timedelta(milliseconds=1))
        return rfc3339_ms(self._last)


@dataclass
class Calendar:
    id: str
    time_zone: str
    summary: str
    resource_id: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    events: dict[str, Event] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)
    counter: int = 0
    #: Sync tokens of an older generation are expired (`expire_sync_tokens`).
    generation: int = 0
    updated: str = field(default_factory=lambda: rfc3339_ms(datetime.now(UTC)))
    #: Every instance a master ever had (suffix → originalStartTime), so that instances a
    #: change removed are reported as cancelled to `singleEvents=true` incremental sync.
    known_instances: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def record(self, event: Event, stamps: Stamps) -> Event:
        """Store `event` as changed now: new counter value, etag and `updated`."""
        self.counter += 1
        event["etag"] = stamps.etag()
        event["updated"] = stamps.now()
        event.setdefault("created", event["updated"])
        self.updated = event["updated"]
        self.events[event["id"]] = event
        self.changed_at[event["id"]] = self.counter
        if is_master(event) and event.get("status") != "cancelled":
            known = self.known_instances.setdefault(event["id"], {})
            for occurrence in self.series(event).occurrences(include_excluded=True):
                known.setdefault(occurrence.suffix, occurrence.start_time())
        return event

    def series(self, master: Event) -> Series:
        return Series(master, self.zone)

    def exceptions(self, master_id: str) -> dict[str, Event]:
        """The exceptions of a series by instance suffix (from their originalStartTime)."""
        found = {}
        for event in self.events.values():
            if event.get("recurringEventId") == master_id:
                found[self.suffix_of(event)] = event
        return found

    def suffix_of(self, exception: Event) -> str:
        original = event_time_or_none(exception.get("originalStartTime"), self.zone)
        if original is None:
            return split_instance_id(exception["id"])[1]  # type: ignore[index]
        if isinstance(original.value, datetime):
            return original.value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return original.value.strftime("%Y%m%d")

    def resolve(self, event_id: str) -> Resolved | None:
        """A stored event, or an instance of a stored master named by an instance id."""
        if event_id in self.events:
            event = self.events[event_id]
            master = self.events.get(event.get("recurringEventId", ""))
            return Resolved(event_id, stored=event, master=master)
        parts = split_instance_id(event_id)
        if parts is None or not is_master(self.events.get(parts[0])):
            return None
        master = self.events[parts[0]]
        occurrence = self.series(master).find(parts[1])
        if occurrence is None:
            return None
        exception = self.exceptions(master["id"]).get(parts[1])
        if exception is not None:
            return Resolved(exception["id"], stored=exception, master=master)
        return Resolved(event_id, stored=None, master=master, occurrence=occurrence)

    def instance(self, master: Event, occurrence: Occurrence) -> Event:
        """The full instance as Google shows it (exceptions are looked up by the caller)."""
        event = copy.deepcopy(master)
        event.pop("recurrence", None)
        event["id"] = f"{master['id']}_{occurrence.suffix}"
        event["recurringEventId"] = master["id"]
        event["originalStartTime"] = occurrence.start_time()
        event["start"] = occurrence.start_time()
        event["end"] = occurrence.end_time()
        if occurrence.excluded:
            event["status"] = "cancelled"
        return event


@dataclass
class Resolved:
    """What an event id names: a stored event, or a computed instance of a series."""

    id: str
    stored: Event | None
    master: Event | None = None
    occurrence: Occurrence | None = None

    def current(self, calendar: Calendar) -> Event:
        if self.stored is not None:
            return self.stored
        assert self.master is not None
        assert self.occurrence is not None
        instance = calendar.instance(self.master, self.occurrence)
        if self.master.get("status") == "cancelled":
            instance["status"] = "cancelled"
        return instance


def is_master(event: Event | None) -> bool:
    return bool(event and event.get("recurrence"))


def is_cancelled(event: Event) -> bool:
    return event.get("status") == "cancelled"


def tombstone(event: Event) -> Event:
    """A cancelled event as incremental sync shows it: only the guaranteed fields.

    "Cancelled exceptions are only guaranteed to have values for the id, recurringEventId
    and originalStartTime fields populated… Deleted events are only guaranteed to have the
    id field populated" (events resource, `status`).
    """
    answer = {"kind": "calendar#event", "etag": event["etag"], "id": event["id"]}
    if event.get("recurringEventId"):
        answer["recurringEventId"] = event["recurringEventId"]
        answer["originalStartTime"] = copy.deepcopy(event["originalStartTime"])
    answer["status"] = "cancelled"
    return answer
