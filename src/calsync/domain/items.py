"""Workplace items, their booking policy and their calendar binding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
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


@dataclass(frozen=True)
class BookingPolicy:
    """What the item accepts. `None` means no limit."""

    booking_window: timedelta | None = timedelta(days=365)
    max_duration: timedelta | None = None
    decline_conflicts: bool = True


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


@dataclass(frozen=True)
class WorkplaceItem:
    name: str
    kind: ItemKind = ItemKind.room
    time_zone: str = "UTC"
    capacity: int = 1
    location: Location = field(default_factory=Location)
    policy: BookingPolicy = field(default_factory=BookingPolicy)
    binding: CalendarBinding | None = None
