"""Reservations: one booking of one workplace item for one span of time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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


class ProviderApproval(StrEnum):
    """Where the room's own calendar approves requests too (an Exchange room mailbox whose
    delegates decide: `CalendarBinding.room_approves`), its answer as last read. None on
    a reservation: the calendar asks for no approval of its own."""

    awaiting = "awaiting"
    accepted = "accepted"
    declined = "declined"


@dataclass(frozen=True)
class Reservation:
    """A reservation and its link to the calendar.

    `uid` and `recurrence_id` identify the calendar occurrence it mirrors (the UID is the
    series' for an occurrence of a recurring meeting). `provider_id` is where the calendar
    object lives at the provider (a CalDAV href), `provider_version` its version (etag) as
    last written or read by calsync: an inbound change with that version is our own echo.
    `provider_approval`: the room's own approval in the calendar, where it gives one.

    `checked_in_at`, `checked_out_at` and `no_show_released_at` (when it was released as
    a no-show) are facts of calsync's alone (`calsync.domain.check_in`): no calendar holds
    them, so a reservation read from the calendar compares equal without them, and a
    write of what the calendar holds leaves them as they are.
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
    provider_approval: ProviderApproval | None = None
    checked_in_at: datetime | None = field(default=None, compare=False)
    checked_out_at: datetime | None = field(default=None, compare=False)
    no_show_released_at: datetime | None = field(default=None, compare=False)

    @property
    def holds_item(self) -> bool:
        return self.status in HOLDING

    @property
    def is_series_occurrence(self) -> bool:
        return self.recurrence_id is not None

    def cancel(self, reason: str = "") -> Reservation:
        return replace(self, status=ReservationStatus.cancelled, reason=reason)
