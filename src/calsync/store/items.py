"""Workplace items in the store: upsert from configuration, delta keys, lookups."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from calsync.domain.items import (
    BookingPolicy,
    CalendarBinding,
    ConflictResolution,
    ItemKind,
    Location,
    WorkingHours,
    WorkplaceItem,
)
from calsync.errors import NotFound
from calsync.store.tables import ItemRow

log = logging.getLogger("calsync.store")


@dataclass(frozen=True)
class StoredItem:
    id: int
    item: WorkplaceItem
    delta_key: str | None
    synchronized_at: datetime | None = None


class ItemRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        #: Ids of the items this unit of work read by name (an item's id never changes).
        self._ids: dict[str, int] = {}

    def upsert(self, item: WorkplaceItem) -> StoredItem:
        """Store the item as configured; a changed binding forgets the delta key."""
        row = self.session.scalar(select(ItemRow).where(ItemRow.name == item.name))
        if row is None:
            row = ItemRow(name=item.name)
            self.session.add(row)
        binding = _dump_binding(item.binding)
        if row.binding != binding:
            row.delta_key = None
        row.kind, row.time_zone, row.capacity = item.kind.value, item.time_zone, item.capacity
        row.site, row.building, row.floor = (
            item.location.site,
            item.location.building,
            item.location.floor,
        )
        allowed_before = row.policy is not None and _load_policy(row.policy).allow_conflicts
        row.policy, row.binding = _dump_policy(item.policy), binding
        self.session.flush()
        if allowed_before and not item.policy.allow_conflicts:
            self._exclusive_again(row.id, item.name)
        return _stored(row)

    def _exclusive_again(self, item_id: int, name: str) -> None:
        """The item no longer allows conflicts: its reservations are exclusive again, so
        that the database refuses new overlaps with them (PostgreSQL marks each row; the
        SQLite triggers read the item's policy). Overlaps held from before stay as they
        are, with a warning: the synchronization declines new ones all the same."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        statement = text("UPDATE reservations SET exclusive = true WHERE item_id = :item_id")
        try:
            with self.session.begin_nested():
                self.session.execute(statement, {"item_id": item_id})
        except IntegrityError:
            log.warning(
                "item %r no longer allows conflicts but holds overlapping reservations from "
                "when it did: cancel one of each overlap for the database to refuse new ones",
                name,
            )

    def get(self, name: str) -> StoredItem:
        row = self.session.scalar(select(ItemRow).where(ItemRow.name == name))
        if row is None:
            raise NotFound(f"no workplace item named {name!r}")
        self._ids[name] = row.id
        return _stored(row)

    def by_id(self, item_id: int) -> StoredItem:
        row = self.session.get(ItemRow, item_id)
        if row is None:
            raise NotFound(f"no workplace item with id {item_id}")
        return _stored(row)

    def by_ids(self, item_ids: Collection[int]) -> dict[int, StoredItem]:
        """The items of these ids that exist, by id, in one query."""
        query = select(ItemRow).where(ItemRow.id.in_(sorted(set(item_ids))))
        return {row.id: _stored(row) for row in self.session.scalars(query)}

    def name_of(self, item_id: int) -> str:
        """The item's name, "" if there is none (one row, not every item's)."""
        return self.session.scalar(select(ItemRow.name).where(ItemRow.id == item_id)) or ""

    def id_of(self, name: str) -> int:
        """The id of the item named `name` (one row, not every item's; none if this unit
        of work read the item already)."""
        if name in self._ids:
            return self._ids[name]
        item_id = self.session.scalar(select(ItemRow.id).where(ItemRow.name == name))
        if item_id is None:
            raise NotFound(f"no workplace item named {name!r}")
        self._ids[name] = item_id
        return item_id

    def names(self) -> dict[int, str]:
        return {row[0]: row[1] for row in self.session.execute(select(ItemRow.id, ItemRow.name))}

    def all(self) -> list[StoredItem]:
        return [
            _stored(row) for row in self.session.scalars(select(ItemRow).order_by(ItemRow.name))
        ]

    def connections(self) -> dict[int, str]:
        """item id → the connection its binding names, for the bound items (no policy read)."""
        rows = self.session.execute(
            select(ItemRow.id, ItemRow.binding).where(ItemRow.binding.is_not(None))
        )
        return {
            item_id: json.loads(binding)["connection"]
            for item_id, binding in rows
            if binding is not None
        }

    def page(self, after_id: int | None, limit: int) -> list[StoredItem]:
        """Up to `limit` items by id, after `after_id` (a page of a list)."""
        query = select(ItemRow).order_by(ItemRow.id).limit(limit)
        if after_id is not None:
            query = query.where(ItemRow.id > after_id)
        return [_stored(row) for row in self.session.scalars(query)]

    def set_delta_key(self, item_id: int, delta_key: str | None) -> None:
        row = self.session.get(ItemRow, item_id)
        assert row is not None
        row.delta_key = delta_key

    def mark_synchronized(self, item_id: int, when: datetime) -> None:
        """The item's calendar was read (or tried) at `when`: the next poll counts from it."""
        row = self.session.get(ItemRow, item_id)
        assert row is not None
        row.synchronized_at = when


def _stored(row: ItemRow) -> StoredItem:
    item = WorkplaceItem(
        name=row.name,
        kind=ItemKind(row.kind),
        time_zone=row.time_zone,
        capacity=row.capacity,
        location=Location(row.site, row.building, row.floor),
        policy=_load_policy(row.policy),
        binding=_load_binding(row.binding),
    )
    return StoredItem(row.id, item, row.delta_key, row.synchronized_at)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _delta(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _dump_policy(policy: BookingPolicy) -> str:
    hours = policy.working_hours
    return json.dumps(
        {
            "booking_window": _seconds(policy.booking_window),
            "max_duration": _seconds(policy.max_duration),
            "working_hours_only": policy.working_hours_only,
            "working_hours": {
                "start": hours.start.isoformat(),
                "end": hours.end.isoformat(),
                "days": sorted(hours.days),
            },
            "allow_recurring": policy.allow_recurring,
            "allow_conflicts": policy.allow_conflicts,
            "series_max_conflict_share": policy.series_max_conflict_share,
            "series_max_conflicts": policy.series_max_conflicts,
            "book_in_policy": list(policy.book_in_policy),
            "request_out_of_policy": list(policy.request_out_of_policy),
            "check_in_required": policy.check_in_required,
            "check_in_opens": policy.check_in_opens.total_seconds(),
            "no_show_after": policy.no_show_after.total_seconds(),
        },
        sort_keys=True,
    )


def _load_policy(text: str) -> BookingPolicy:
    """The stored policy; a rule stored before it existed takes its default (a policy
    stored as `decline_conflicts` reads as `allow_conflicts`' opposite)."""
    data: dict[str, Any] = json.loads(text)
    default = BookingPolicy()
    hours = data.get("working_hours")
    return BookingPolicy(
        booking_window=_delta(data.get("booking_window")),
        max_duration=_delta(data.get("max_duration")),
        working_hours_only=bool(data.get("working_hours_only", False)),
        working_hours=WorkingHours(
            time.fromisoformat(hours["start"]),
            time.fromisoformat(hours["end"]),
            frozenset(hours["days"]),
        )
        if hours
        else default.working_hours,
        allow_recurring=bool(data.get("allow_recurring", True)),
        allow_conflicts=bool(data.get("allow_conflicts", not data.get("decline_conflicts", True))),
        series_max_conflict_share=data.get("series_max_conflict_share"),
        series_max_conflicts=data.get("series_max_conflicts"),
        book_in_policy=tuple(data.get("book_in_policy", ())),
        request_out_of_policy=tuple(data.get("request_out_of_policy", ())),
        check_in_required=bool(data.get("check_in_required", False)),
        check_in_opens=_delta(data.get("check_in_opens")) or default.check_in_opens,
        no_show_after=_delta(data.get("no_show_after")) or default.no_show_after,
    )


def _dump_binding(binding: CalendarBinding | None) -> str | None:
    if binding is None:
        return None
    data = asdict(binding)
    data["window_past"] = binding.window_past.total_seconds()
    data["window_ahead"] = binding.window_ahead.total_seconds()
    if not binding.room_approves:
        # Left out when off, so that bindings stored before it existed compare equal
        # (a changed binding forgets its delta key).
        del data["room_approves"]
    return json.dumps(data, sort_keys=True)


def _load_binding(text: str | None) -> CalendarBinding | None:
    if text is None:
        return None
    data: dict[str, Any] = json.loads(text)
    data["window_past"] = timedelta(seconds=data["window_past"])
    data["window_ahead"] = timedelta(seconds=data["window_ahead"])
    data["conflict_resolution"] = ConflictResolution(data.get("conflict_resolution", "calendar"))
    return CalendarBinding(**data)
