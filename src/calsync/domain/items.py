"""Workplace items, their booking policy and their calendar binding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum


class ItemKind(StrEnum):
    room = "room"
    desk = "desk"
    parking = "parking"
    equipment = "equipment"


@dataclass(frozen=True)
class Location:
    site: str = ""
    building: str = ""
    floor: str = ""

    def within(self, area: Location) -> bool:
        """Whether this location lies in `area`, whose empty parts stand for any value:
        `Location("HQ")` is every building and floor of site HQ."""
        return all(
            not wanted or wanted == have
            for wanted, have in (
                (area.site, self.site),
                (area.building, self.building),
                (area.floor, self.floor),
            )
        )

    @property
    def parts(self) -> int:
        """How many parts are named: an area naming more is narrower."""
        return sum(1 for part in (self.site, self.building, self.floor) if part)

    def __str__(self) -> str:
        named = [f"{k} {v}" for k, v in vars(self).items() if v]
        return ", ".join(named) or "anywhere"


#: Monday to Friday, as `datetime.weekday()` counts them.
WEEKDAYS = frozenset(range(5))


@dataclass(frozen=True)
class WorkingHours:
    """The hours of the days on which the item works, in the item's time zone."""

    start: time = time(8)
    end: time = time(18)
    days: frozenset[int] = WEEKDAYS


@dataclass(frozen=True)
class BookingPolicy:
    """What the item accepts without a human's decision. `None` means no limit.

    - `booking_window`: how far ahead a booking may start.
    - `max_duration`: the longest booking.
    - `working_hours_only`: a booking must start and end within `working_hours` of one day.
    - `allow_recurring`: whether occurrences of a recurring meeting are accepted.
    - `allow_conflicts`: whether a booking may overlap one that holds the item.
    - `series_max_conflict_share`, `series_max_conflicts`: a recurring series with more
      conflicting occurrences than this share of them, or this many, is declined as a
      whole; with fewer, the series is accepted and only the conflicting ones declined.
    - `book_in_policy`: who may book (addresses or domains); empty: everyone.
    - `request_out_of_policy`: who may ask for a booking that breaks a rule: it then
      waits for approval instead of being declined (a conflict is declined all the same).
    - `check_in_required`: a reservation not checked in `no_show_after` its start is
      released as a no-show; check-in opens `check_in_opens` before the start
      (`calsync.domain.check_in`).
    """

    booking_window: timedelta | None = timedelta(days=365)
    max_duration: timedelta | None = None
    working_hours_only: bool = False
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    allow_recurring: bool = True
    allow_conflicts: bool = False
    series_max_conflict_share: float | None = None
    series_max_conflicts: int | None = None
    book_in_policy: tuple[str, ...] = ()
    request_out_of_policy: tuple[str, ...] = ()
    check_in_required: bool = False
    check_in_opens: timedelta = timedelta(minutes=15)
    no_show_after: timedelta = timedelta(minutes=15)


class ConflictResolution(StrEnum):
    """Whose change wins when calsync's pending change meets a change made in the calendar
    to an object calsync created (vdirsyncer's `conflict_resolution`). Objects someone else
    owns (their meetings, their series) always take the owner's word."""

    calendar = "calendar"
    calsync = "calsync"


@dataclass(frozen=True)
class CalendarBinding:
    """How one item is synchronized with one calendar of one connection."""

    connection: str
    calendar: str
    room_address: str = ""
    active: bool = True
    window_past: timedelta = timedelta(days=30)
    window_ahead: timedelta = timedelta(days=365)
    dry_run: bool = False
    conflict_resolution: ConflictResolution = ConflictResolution.calendar
    #: The room's own calendar approves requests too (an Exchange room mailbox whose
    #: delegates decide): calsync does not answer for the room but reads its answer, and
    #: a booking is confirmed only once both sides approved. A rejection in calsync still
    #: declines it in the calendar, freeing the room.
    room_approves: bool = False


@dataclass(frozen=True)
class WorkplaceItem:
    name: str
    kind: ItemKind = ItemKind.room
    time_zone: str = "UTC"
    capacity: int = 1
    location: Location = field(default_factory=Location)
    policy: BookingPolicy = field(default_factory=BookingPolicy)
    binding: CalendarBinding | None = None
