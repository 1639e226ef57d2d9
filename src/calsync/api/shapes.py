"""The shapes of the API's answers, for the OpenAPI document and to keep answers to what
is documented. Records have the JSON export shapes of `calsync.exports` (the same keys
as `calsync ... --json`; times are ISO 8601 text); lists leave the large payloads out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Reservation(BaseModel):
    schema_: str = Field(alias="schema", examples=["calsync.reservation/1"])
    id: str
    item: str
    start: str
    end: str
    all_day: bool
    status: str
    origin: str
    subject: str
    organizer: str
    uid: str
    recurrence_id: str | None
    sequence: int
    provider_id: str | None
    provider_version: str | None
    reason: str | None
    provider_approval: str | None = None
    checked_in_at: str | None = None
    checked_out_at: str | None = None
    no_show_released_at: str | None = None


class EventSummary(BaseModel):
    """An event without its payloads (a list's row)."""

    schema_: str = Field(alias="schema", examples=["calsync.event/1"])
    id: int
    item: str
    action: str
    state: str
    reservation_id: str | None
    synchronization_id: int | None
    attempts: int
    next_attempt_at: str | None
    created_at: str | None
    updated_at: str | None
    error: str | None


class Event(EventSummary):
    """An event whole: calsync's payload, the provider's payload and its response."""

    payload: Any
    provider_payload: str | None
    response: str | None


class CalendarItemSummary(BaseModel):
    schema_: str = Field(alias="schema", examples=["calsync.calendar_item/1"])
    id: int
    item: str
    kind: str
    status: str
    event_id: int
    synchronization_id: int | None
    provider_id: str
    provider_version: str | None
    created_at: str | None
    applied_at: str | None
    outcome: str | None
    error: str | None


class CalendarItem(CalendarItemSummary):
    provider_payload: str | None


class Synchronization(BaseModel):
    schema_: str = Field(alias="schema", examples=["calsync.synchronization/1"])
    id: int
    item: str
    mode: str
    started_at: str | None
    finished_at: str | None
    delta_key_before: str | None
    delta_key_after: str | None
    events_created: int
    calendar_items_created: int
    outcome: str
    detail: str | None
    requests: int
    bytes_received: int


class Location(BaseModel):
    site: str
    building: str
    floor: str


class Binding(BaseModel):
    connection: str
    calendar: str
    room_address: str
    active: bool
    dry_run: bool
    window_past_days: float
    window_ahead_days: float
    conflict_resolution: str


class LastSynchronization(BaseModel):
    id: int
    mode: str
    outcome: str
    started_at: str | None
    finished_at: str | None


class SynchronizationState(BaseModel):
    delta_key: str | None
    synchronized_at: str | None
    last_succeeded_at: str | None
    last: LastSynchronization | None
    events_waiting: int
    events_in_error: int


class WorkplaceItem(BaseModel):
    schema_: str = Field(alias="schema", examples=["calsync.workplace_item/1"])
    name: str
    kind: str
    time_zone: str
    capacity: int
    location: Location
    binding: Binding | None
    synchronization: SynchronizationState


class Connection(BaseModel):
    name: str
    kind: str
    url: str
    authentication: str = Field(examples=["basic", "bearer", "service_account", "none"])
    items: list[str]


class ItemHealth(BaseModel):
    item: str
    status: str
    last_outcome: str | None
    last_started_at: str | None
    last_succeeded_at: str | None
    lag_seconds: float | None
    events_in_error: int
    provider_errors: dict[str, int]


class ConnectionHealth(BaseModel):
    connection: str
    status: str = Field(examples=["ok", "failing", "unknown"])
    items: list[ItemHealth]


class CalendarTested(BaseModel):
    item: str
    calendar: str
    ok: bool
    delta_keys: bool | None
    detail: str


class ConnectionTested(BaseModel):
    connection: str
    kind: str
    url: str
    capabilities: dict[str, Any]
    ok: bool
    calendars: list[CalendarTested]


class Reprocessed(BaseModel):
    id: int
    reprocessed: bool


class ReprocessedMany(BaseModel):
    reprocessed: list[int]


class SynchronizationRequested(BaseModel):
    item: str
    event_id: int = Field(description="The read event queued (or the one already waiting).")


class Approval(BaseModel):
    """A request for a booking's approval, its decision, and the booking."""

    schema_: str = Field(alias="schema", examples=["calsync.approval/1"])
    id: int
    reservation_id: str
    rule: str
    performer: str
    requested_because: str
    state: str
    requested_at: str
    expires_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    notified_at: str | None
    reservation: Reservation | None = None
