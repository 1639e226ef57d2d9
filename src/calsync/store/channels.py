"""Push channels in the store: `ChannelRepository` (`uow.channels`).

A channel is written before the provider is asked for it (`reserve`), so that none
exists unrecorded, and completed with the provider's resource id once it answered
(`opened`). Its secret token is kept as a SHA-256 only; `verify` compares a
notification's token with `hmac.compare_digest`. Two workers keeping channels at once
open one per item: `reserve` checks and inserts under a per-item advisory lock on
PostgreSQL; SQLite's writers already take turns.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from calsync.errors import NotFound
from calsync.store.tables import ChannelRow

#: PostgreSQL advisory lock space of "opening a channel for this item" (`reserve`).
CHANNEL_LOCK = 0x6368616E  # "chan"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredChannel:
    """A channel as stored: never its token."""

    id: int
    item_id: int
    connection: str
    calendar: str
    channel_id: str
    resource_id: str | None
    address: str
    expires_at: datetime
    created_at: datetime
    stopped_at: datetime | None

    @classmethod
    def of(cls, row: ChannelRow) -> StoredChannel:
        return cls(
            row.id,
            row.item_id,
            row.connection,
            row.calendar,
            row.channel_id,
            row.resource_id,
            row.address,
            row.expires_at,
            row.created_at,
            row.stopped_at,
        )


class Refusal(StrEnum):
    """Why a notification was refused (said in the log line, never to the sender)."""

    unknown = "unknown channel"
    stopped = "channel stopped"
    expired = "channel expired"
    token = "wrong token"
    resource = "wrong resource id"
    unbound = "its item's binding is gone or inactive"


_NO_HASH = token_hash("")


class ChannelRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def reserve(
        self,
        item_id: int,
        connection: str,
        calendar: str,
        channel_id: str,
        token: str,
        address: str,
        expires_at: datetime,
        now: datetime,
        renew_by: datetime,
    ) -> StoredChannel | None:
        """Record a channel about to be asked for, unless the item has an unstopped one
        for `calendar` at `address` that lasts past `renew_by` (None then)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :item_id)"),
                {"space": CHANNEL_LOCK, "item_id": item_id},
            )
        lasting = self.session.scalar(
            select(ChannelRow.id).where(
                ChannelRow.item_id == item_id,
                ChannelRow.connection == connection,
                ChannelRow.calendar == calendar,
                ChannelRow.address == address,
                ChannelRow.stopped_at.is_(None),
                ChannelRow.expires_at > renew_by,
            )
        )
        if lasting is not None:
            return None
        row = ChannelRow(
            item_id=item_id,
            connection=connection,
            calendar=calendar,
            channel_id=channel_id,
            resource_id=None,
            token_hash=token_hash(token),
            address=address,
            expires_at=expires_at,
            created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return StoredChannel.of(row)

    def opened(self, channel_id: str, resource_id: str, expires_at: datetime) -> None:
        """The provider opened the channel: its resource id and actual expiry."""
        row = self._row(channel_id)
        row.resource_id, row.expires_at = resource_id, expires_at
        self.session.flush()

    def stop(self, channel_id: str, now: datetime) -> None:
        row = self._row(channel_id)
        if row.stopped_at is None:
            row.stopped_at = now
            self.session.flush()

    def unstopped(self) -> list[StoredChannel]:
        query = select(ChannelRow).where(ChannelRow.stopped_at.is_(None)).order_by(ChannelRow.id)
        return [StoredChannel.of(row) for row in self.session.scalars(query)]

    def find(self, item_id: int | None = None) -> list[StoredChannel]:
        query = select(ChannelRow).order_by(ChannelRow.id)
        if item_id is not None:
            query = query.where(ChannelRow.item_id == item_id)
        return [StoredChannel.of(row) for row in self.session.scalars(query)]

    def verify(
        self, channel_id: str, token: str, resource_id: str, now: datetime
    ) -> StoredChannel | Refusal:
        """The channel a notification names, if its token and resource id are the ones
        registered and it is neither stopped nor expired; else why not.

        A channel whose resource id is not known yet (its notification of creation
        arrived before the provider's answer) passes with any resource id: the caller
        accepts only that creation notice from it."""
        row = self.session.scalar(select(ChannelRow).where(ChannelRow.channel_id == channel_id))
        matches = hmac.compare_digest(
            token_hash(token), row.token_hash if row is not None else _NO_HASH
        )
        if row is None:
            return Refusal.unknown
        if not matches:
            return Refusal.token
        if row.stopped_at is not None:
            return Refusal.stopped
        if row.expires_at <= now:
            return Refusal.expired
        if row.resource_id is not None and row.resource_id != resource_id:
            return Refusal.resource
        return StoredChannel.of(row)

    def _row(self, channel_id: str) -> ChannelRow:
        row = self.session.scalar(select(ChannelRow).where(ChannelRow.channel_id == channel_id))
        if row is None:
            raise NotFound(f"no push channel {channel_id}")
        return row
