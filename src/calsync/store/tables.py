"""The rows: SQLAlchemy 2 declarative tables. Domain values live in calsync.domain.

Double booking is refused by the database itself: on PostgreSQL an exclusion constraint
on (item, time range) over holding reservations; on SQLite a trigger with the same rule
(see the Alembic migration), under serialized writes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from calsync.store.types import UTCDateTime


class Base(DeclarativeBase):
    pass


class ItemRow(Base):
    __tablename__ = "workplace_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    time_zone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    site: Mapped[str] = mapped_column(String(200), default="")
    building: Mapped[str] = mapped_column(String(200), default="")
    floor: Mapped[str] = mapped_column(String(50), default="")
    policy: Mapped[str] = mapped_column(Text, default="{}")
    binding: Mapped[str | None] = mapped_column(Text, nullable=True)
    delta_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    synchronized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReservationRow(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("item_id", "uid", "recurrence_key", name="uq_reservation_occurrence"),
        Index("ix_reservations_item_start", "item_id", "start_at"),
        Index("ix_reservations_provider_id", "item_id", "provider_id"),
        Index("ix_reservations_page", "start_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workplace_items.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(30))
    origin: Mapped[str] = mapped_column(String(20))
    uid: Mapped[str] = mapped_column(String(500))
    recurrence_key: Mapped[str] = mapped_column(String(40), default="")
    recurrence_id: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    organizer: Mapped[str] = mapped_column(String(500), default="")
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    provider_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Check-in facts (`calsync.domain.check_in`), written only by their own conditional
    #: updates (`ReservationRepository.record_check_in`). The partial index
    #: `ix_reservations_check_in_due` over them lives in the migrations only (0006).
    #: The room's own approval in the calendar (`ProviderApproval`), where it gives one.
    provider_approval: Mapped[str | None] = mapped_column(String(20), nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    no_show_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SynchronizationRow(Base):
    __tablename__ = "synchronizations"
    __table_args__ = (Index("ix_synchronizations_item_page", "item_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workplace_items.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mode: Mapped[str] = mapped_column(String(20))
    delta_key_before: Mapped[str | None] = mapped_column(Text, nullable=True)
    delta_key_after: Mapped[str | None] = mapped_column(Text, nullable=True)
    events_created: Mapped[int] = mapped_column(Integer, default=0)
    calendar_items_created: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes_received: Mapped[int] = mapped_column(Integer, default=0)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_claim", "state", "next_attempt_at"),
        Index("ix_events_item_page", "item_id", "id"),
        # The dashboard's counts by day (`calsync.store.health`).
        Index("ix_events_created", "created_at"),
        Index("ix_events_state_updated", "state", "updated_at"),
        Index("ix_events_item_state", "item_id", "state"),
        # Never two synchronizations of one calendar at once, whatever the worker count:
        # the partial unique index `uq_events_one_read_in_progress` (item_id, where action
        # = 'read' and state = 'processing') lives in the migrations only. Declared here,
        # its dialect options would load SQLAlchemy's PostgreSQL dialect (and asyncio) into
        # every command, SQLite ones included: 40 ms of each start.
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workplace_items.id"), index=True)
    reservation_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    synchronization_id: Mapped[int | None] = mapped_column(
        ForeignKey("synchronizations.id"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    provider_payload: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When the current claim was taken, and its fencing token: each claim increments it,
    #: so a run that lost its claim is refused at its next commit (`EventRepository.hold`).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarItemRow(Base):
    __tablename__ = "calendar_items"
    __table_args__ = (
        Index("ix_calendar_items_status", "status", "item_id"),
        Index("ix_calendar_items_item_page", "item_id", "id"),
        Index("ix_calendar_items_created", "created_at", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workplace_items.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    synchronization_id: Mapped[int | None] = mapped_column(
        ForeignKey("synchronizations.id"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    provider_id: Mapped[str] = mapped_column(String(1000))
    provider_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    provider_payload: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChannelRow(Base):
    """A push notification channel calsync opened on an item's calendar. The secret token
    is kept only as its SHA-256: a notification proves itself by the token, which the
    store cannot give away. `resource_id` is None until the provider named it (the row is
    written before the channel is asked for, so that no channel exists unrecorded)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workplace_items.id"), index=True)
    connection: Mapped[str] = mapped_column(String(200))
    calendar: Mapped[str] = mapped_column(String(1000))
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    resource_id: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApprovalRow(Base):
    """One request for a reservation's approval and, once made, its decision (who, when,
    why). At most one request per reservation is pending: the partial unique index
    `uq_approvals_one_pending` lives in the migrations only (see `EventRow`)."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_state_expires", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workplace_items.id"))
    rule: Mapped[str] = mapped_column(String(200))
    #: `person:<address>`, `group:<name>` or `role:<name>`.
    performer: Mapped[str] = mapped_column(String(500))
    #: Why it was asked for: the rule's criteria met, the policy rules broken.
    requested_because: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(500), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: When its performers were told (None: not yet, or the mail failed).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApprovalNoticeRow(Base):
    """One recipient told of one approval request (by mail), and when. Written before the
    mail is sent (its unique key is the claim: two workers never mail one request to one
    recipient twice), removed again when the mail failed."""

    __tablename__ = "approval_notices"
    __table_args__ = (UniqueConstraint("approval_id", "recipient", name="uq_approval_notice"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"))
    recipient: Mapped[str] = mapped_column(String(500), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiTokenRow(Base):
    """A token for the HTTP API. Kept only as the SHA-256 of the whole token: a caller
    proves itself with the token, which the store cannot give away. `key` is the token's
    public part, shown in lists and named to revoke it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    performer: Mapped[str] = mapped_column(String(500), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
