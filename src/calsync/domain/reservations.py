"""Reservations: one booking of one workplace item for one span of time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class ReservationStatus(StrEnum):
    pending_approval = "pending_approval"
    awaiting_confirmation = "awaiting_confirmation"
    confirmed = "confirmed"
    declined = "declined"
    conflicted = "conflicted"
    cancelled = "cancelled"


#: Statuses that hold the item: two of these may never overlap on one item.
HOLDING = frozenset(
    {
        ReservationStatus.pending_approval,
        ReservationStatus.awaiting_confirmation,
        ReservationStatus.confirmed,
    }
)


class Origin(StrEnum):
    workplace = "workplace"
    calendar = "calendar"


@dataclass(frozen=True)
class Reservation:
    """A reservation and its link to the calendar.

    `uid` and `recurrence_id` identify the calendar occurrence it mirrors (the UID is the
    series' for an occurrence of a recurring meeting). `provider_id` is where the calendar
    object lives at the provider (a CalDAV href), `provider_version` its version (etag) as
    last written or read by calsync: an inbound change with that version is our own echo.
    """

    id: str
    item: str
    start: datetime
    end: datetime
    status: ReservationStatus
    origin: Origin
    uid: str
    subject: str = ""
    organizer: str = ""
    all_day: bool = False
    recurrence_id: datetime | None = None
    sequence: int = 0
    provider_id: str | None = None
    provider_version: str | None = None
    reason: str = ""

    @property
    def holds_item(self) -> bool:
        return self.status in HOLDING

    @property
    def is_series_occurrence(self) -> bool:
        return self.recurrence_id is not None

    def cancel(self, reason: str = "") -> Reservation:
        return replace(self, status=ReservationStatus.cancelled, reason=reason)
