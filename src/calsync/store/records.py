"""The exchange log in the store: events, calendar items and synchronizations.

Events are also the durable work queue: `claim()` hands pending events to one worker
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs one writer at a time). Each claim
carries a fencing token (`Claim`); `hold()` is the check every commit of a run makes.
Claiming lives in `calsync.store.claims`; `EventRepository` offers it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from calsync.domain.events import Action, CalendarItemKind, CalendarItemStatus, EventState
from calsync.domain.synchronizations import SyncOutcome
from calsync.errors import NotFound
from calsync.store.bulk import insert_rows
from calsync.store.claims import Claim as Claim  # runs hold their events by it
from calsync.store.claims import EventClaims
from calsync.store.tables import CalendarItemRow, EventRow, SynchronizationRow

_CHANGES = (Action.update.value, Action.delete.value)
_UNSENT = (EventState.new.value, EventState.processing.value)
EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
CALENDAR_ITEMS: Table = CalendarItemRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class RecordFilter:
    item_id: int | None = None
    status: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    synchronization_id: int | None = None
    limit: int = 200
    #: Only records of these actions (events), or of this kind (calendar items).
    actions: tuple[str, ...] = ()
    kind: str | None = None
    #: Only records older than this id: the next page of a list, newest first.
    before_id: int | None = None


def new_event(
    item_id: int,
    action: Action,
    now: datetime,
    payload: dict[str, Any],
    reservation_id: str | None = None,
    synchronization_id: int | None = None,
) -> dict[str, Any]:
    """The columns of a new event, due now."""
    return {
        "item_id": item_id,
        "action": action.value,
        "state": EventState.new.value,
        "payload": json.dumps(payload, sort_keys=True, default=str),
        "provider_payload": "",
        "response": "",
        "error": "",
        "reservation_id": reservation_id,
        "synchronization_id": synchronization_id,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
    }


class EventRepository(EventClaims):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        item_id: int,
        action: Action,
        now: datetime,
        payload: dict[str, Any],
        reservation_id: str | None = None,
    ) -> EventRow:
        row = EventRow(**new_event(item_id, action, now, payload, reservation_id))
        self.session.add(row)
        self.session.flush()
        return row

    def queue(
        self,
        item_id: int,
        action: Action,
        now: datetime,
        payload: dict[str, Any],
        reservation_id: str | None = None,
    ) -> None:
        """As `add`, for a caller that needs nothing back: one INSERT, no ORM row."""
        self.add_many([new_event(item_id, action, now, payload, reservation_id)])

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.session, EVENTS, rows)

    def get(self, event_id: int) -> EventRow:
        row = self.session.get(EventRow, event_id)
        if row is None:
            raise NotFound(f"no event {event_id}")
        return row

    def requeue_failed(self, event_id: int, now: datetime) -> bool:
        """Put the event back to `new` if it is in error now, decided by the UPDATE itself
        (PostgreSQL re-reads the row a concurrent writer changed): a reprocess that read
        the event in error before another's run claimed it leaves that run alone."""
        result = self.session.execute(
            update(EventRow)
            .where(EventRow.id == event_id, EventRow.state == "error")
            .values(
                state="new",
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
                claimed_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def waiting_changes(self, reservation_ids: Collection[str]) -> set[str]:
        """Those of `reservation_ids` with a change made in calsync not yet sent (an update
        or delete event new or running)."""
        ids = list(reservation_ids)
        waiting: set[str] = set()
        for start in range(0, len(ids), 500):
            query = select(EventRow.reservation_id).where(
                EventRow.reservation_id.in_(ids[start : start + 500]),
                EventRow.action.in_(_CHANGES),
                EventRow.state.in_(_UNSENT),
            )
            waiting.update(str(found) for found in self.session.scalars(query))
        return waiting

    def supersede_waiting(
        self, reservation_ids: Collection[str], reason: str, now: datetime
    ) -> None:
        """The queued (not running) changes of these reservations, made obsolete by what
        the calendar said: processed, the response saying why."""
        if not reservation_ids:
            return
        self.session.execute(
            update(EventRow)
            .where(
                EventRow.reservation_id.in_(list(reservation_ids)),
                EventRow.action.in_(_CHANGES),
                EventRow.state == EventState.new.value,
            )
            .values(
                state=EventState.processed.value,
                response=f"superseded: {reason}",
                error="",
                updated_at=now,
            )
        )

    def find(self, where: RecordFilter) -> list[EventRow]:
        query = _filtered(select(EventRow), EventRow, where, EventRow.state)
        if where.action:
            query = query.where(EventRow.action == where.action)
        if where.actions:
            query = query.where(EventRow.action.in_(where.actions))
        return list(self.session.scalars(query.order_by(EventRow.id.desc()).limit(where.limit)))


class CalendarItemRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.session, CALENDAR_ITEMS, rows)

    def add(self, row: dict[str, Any]) -> int:
        """One calendar item; its id."""
        added = CalendarItemRow(**row)
        self.session.add(added)
        self.session.flush()
        return added.id

    def get(self, calendar_item_id: int) -> CalendarItemRow:
        row = self.session.get(CalendarItemRow, calendar_item_id)
        if row is None:
            raise NotFound(f"no calendar item {calendar_item_id}")
        return row

    def payloads(self, calendar_item_ids: Collection[int]) -> dict[int, tuple[str | None, str]]:
        """calendar item id → (provider version, provider payload), for those still kept."""
        query = select(
            CalendarItemRow.id, CalendarItemRow.provider_version, CalendarItemRow.provider_payload
        ).where(CalendarItemRow.id.in_(list(calendar_item_ids)))
        return {
            row.id: (row.provider_version, row.provider_payload)
            for row in self.session.execute(query)
        }

    def pending(
        self, item_id: int, limit: int, through_id: int | None = None, after_id: int = 0
    ) -> list[PendingItem]:
        """The item's oldest pending calendar items after `after_id`, up to `through_id`."""
        query = (
            _PENDING.where(
                CALENDAR_ITEMS.c.item_id == item_id,
                CALENDAR_ITEMS.c.status == CalendarItemStatus.pending.value,
                CALENDAR_ITEMS.c.id > after_id,
            )
            .order_by(CALENDAR_ITEMS.c.id)
            .limit(limit)
        )
        if through_id is not None:
            query = query.where(CALENDAR_ITEMS.c.id <= through_id)
        return [PendingItem(*row) for row in self.session.execute(query)]

    def to_apply(self, calendar_item_id: int) -> PendingItem:
        """One calendar item as applying sees it, whatever its status."""
        row = self.session.execute(
            _PENDING.where(CALENDAR_ITEMS.c.id == calendar_item_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no calendar item {calendar_item_id}")
        return PendingItem(*row)

    def settle(self, items: Sequence[PendingItem]) -> None:
        """Store what applying decided for each item (status, outcome, error, when)."""
        settled = [item for item in items if item.status != CalendarItemStatus.pending.value]
        if not settled:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            # One statement for the whole batch instead of one per row.
            self.session.execute(
                _SETTLE_MANY,
                {
                    "ids": [item.id for item in settled],
                    "statuses": [item.status for item in settled],
                    "outcomes": [item.outcome for item in settled],
                    "errors": [item.error for item in settled],
                    "applied": [item.applied_at for item in settled],
                },
            )
            return
        self.session.execute(
            _SETTLE,
            [
                {
                    "_id": item.id,
                    "status": item.status,
                    "outcome": item.outcome,
                    "error": item.error,
                    "applied_at": item.applied_at,
                }
                for item in settled
            ],
        )

    def last_id(self, item_id: int) -> int | None:
        """The id of the item's newest calendar item."""
        return self.session.scalar(
            select(func.max(CalendarItemRow.id)).where(CalendarItemRow.item_id == item_id)
        )

    def find(self, where: RecordFilter) -> list[CalendarItemRow]:
        query = _filtered(select(CalendarItemRow), CalendarItemRow, where, CalendarItemRow.status)
        if where.synchronization_id is not None:
            query = query.where(CalendarItemRow.synchronization_id == where.synchronization_id)
        if where.kind:
            query = query.where(CalendarItemRow.kind == where.kind)
        query = query.order_by(CalendarItemRow.id.desc()).limit(where.limit)
        return list(self.session.scalars(query))


@dataclass
class PendingItem:
    """A calendar item as applying needs it; applying fills in the verdict and `settle`
    stores it. Plain data: a batch of thousands costs no ORM bookkeeping."""

    id: int
    kind: str
    provider_id: str
    provider_version: str | None
    provider_payload: str
    synchronization_id: int | None
    status: str = CalendarItemStatus.pending.value
    outcome: str = ""
    error: str = ""
    applied_at: datetime | None = None


_PENDING = select(
    CALENDAR_ITEMS.c.id,
    CALENDAR_ITEMS.c.kind,
    CALENDAR_ITEMS.c.provider_id,
    CALENDAR_ITEMS.c.provider_version,
    CALENDAR_ITEMS.c.provider_payload,
    CALENDAR_ITEMS.c.synchronization_id,
)
_SETTLE = (
    update(CALENDAR_ITEMS)
    .where(CALENDAR_ITEMS.c.id == bindparam("_id"))
    .values(
        status=bindparam("status"),
        outcome=bindparam("outcome"),
        error=bindparam("error"),
        applied_at=bindparam("applied_at"),
    )
)


#: PostgreSQL: a batch's verdicts as arrays, unnested into one UPDATE.
_SETTLE_MANY = text(
    """
    UPDATE calendar_items AS item
    SET status = verdict.status, outcome = verdict.outcome, error = verdict.error,
        applied_at = verdict.applied_at
    FROM unnest(
        CAST(:ids AS integer[]), CAST(:statuses AS text[]), CAST(:outcomes AS text[]),
        CAST(:errors AS text[]), CAST(:applied AS timestamptz[])
    ) AS verdict (id, status, outcome, error, applied_at)
    WHERE item.id = verdict.id
    """
)


class SynchronizationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: SynchronizationRow) -> SynchronizationRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, synchronization_id: int) -> SynchronizationRow:
        row = self.session.get(SynchronizationRow, synchronization_id)
        if row is None:
            raise NotFound(f"no synchronization {synchronization_id}")
        return row

    def last_succeeded(self) -> dict[int, datetime]:
        """When each item's newest synchronization that succeeded started, by item id."""
        rows = self.session.execute(
            select(SynchronizationRow.item_id, func.max(SynchronizationRow.started_at))
            .where(SynchronizationRow.outcome == SyncOutcome.succeeded.value)
            .group_by(SynchronizationRow.item_id)
        )
        return dict(rows.tuples().all())

    def interrupt_running(self, item_id: int, now: datetime) -> None:
        """The item's synchronizations still `running` were cut short: only one read of a
        calendar runs at a time, so whoever opens a new one knows the old one is dead."""
        self.session.execute(
            update(SynchronizationRow)
            .where(
                SynchronizationRow.item_id == item_id,
                SynchronizationRow.outcome == SyncOutcome.running.value,
            )
            .values(
                outcome=SyncOutcome.interrupted.value,
                finished_at=now,
                detail="the worker stopped before the end; the delta key did not move",
            )
        )

    def recorded_by_interrupted(
        self, item_id: int, delta_key_before: str | None
    ) -> set[tuple[str, str | None, bool]]:
        """(provider id, version, removed) of the calendar items that synchronizations of
        the item cut short since its last successful one recorded from the same delta key:
        what a run taking such a read over need not record again."""
        last_done = (
            select(func.coalesce(func.max(SynchronizationRow.id), 0))
            .where(
                SynchronizationRow.item_id == item_id,
                SynchronizationRow.outcome != SyncOutcome.interrupted.value,
                SynchronizationRow.outcome != SyncOutcome.running.value,
            )
            .scalar_subquery()
        )
        same_key = (
            SynchronizationRow.delta_key_before.is_(None)
            if delta_key_before is None
            else SynchronizationRow.delta_key_before == delta_key_before
        )
        cut_short = select(SynchronizationRow.id).where(
            SynchronizationRow.item_id == item_id,
            SynchronizationRow.outcome == SyncOutcome.interrupted.value,
            SynchronizationRow.id > last_done,
            same_key,
        )
        query = select(
            CalendarItemRow.provider_id, CalendarItemRow.provider_version, CalendarItemRow.kind
        ).where(CalendarItemRow.synchronization_id.in_(cut_short))
        return {
            (provider_id, version, kind == CalendarItemKind.cancellation.value)
            for provider_id, version, kind in self.session.execute(query)
        }

    def count_events(self, synchronization_id: int, count: int) -> None:
        """More events (the room's answers, say) came out of this synchronization."""
        self.session.execute(
            update(SynchronizationRow)
            .where(SynchronizationRow.id == synchronization_id)
            .values(events_created=SynchronizationRow.events_created + count)
        )

    def find(self, where: RecordFilter) -> list[SynchronizationRow]:
        query = _filtered(
            select(SynchronizationRow), SynchronizationRow, where, SynchronizationRow.outcome
        )
        query = query.order_by(SynchronizationRow.id.desc()).limit(where.limit)
        return list(self.session.scalars(query))


def _filtered(query: Select[Any], table: Any, where: RecordFilter, status: Any) -> Select[Any]:
    stamp = table.started_at if table is SynchronizationRow else table.created_at
    if where.item_id is not None:
        query = query.where(table.item_id == where.item_id)
    if where.status:
        query = query.where(status == where.status)
    if where.since is not None:
        query = query.where(stamp >= where.since)
    if where.until is not None:
        query = query.where(stamp < where.until)
    if where.before_id is not None:
        query = query.where(table.id < where.before_id)
    return query
