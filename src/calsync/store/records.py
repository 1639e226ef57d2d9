"""The exchange log in the store: events, calendar items and synchronizations.

Events are also the durable work queue: `claim()` hands pending events to one worker
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs one writer at a time). Each claim
carries a fencing token (`Claim`); `hold()` is the check every commit of a run makes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, bindparam, exists, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from calsync.domain.events import Action, CalendarItemStatus, EventState
from calsync.domain.synchronizations import SyncOutcome
from calsync.errors import CalendarBusy, ClaimLost, EventBusy, NotFound
from calsync.store.bulk import insert_rows
from calsync.store.tables import CalendarItemRow, EventRow, ItemRow, SynchronizationRow

EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
CALENDAR_ITEMS: Table = CalendarItemRow.__table__  # type: ignore[assignment]
#: PostgreSQL advisory lock space of "queueing a read of this item" (`queue_read`).
READ_QUEUE_LOCK = 0x72656164  # "read"


@dataclass(frozen=True)
class RecordFilter:
    item_id: int | None = None
    status: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    synchronization_id: int | None = None
    limit: int = 200


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


@dataclass(frozen=True)
class Claim:
    """A run's hold on one event: the event and the fencing token its claim received.

    The token grows with every claim of the event, so a run whose lease ran out and whose
    event was claimed again holds an old token: `EventRepository.hold` refuses it.
    """

    event_id: int
    token: int

    @classmethod
    def of(cls, row: EventRow) -> Claim:
        return cls(row.id, row.claim_token)


def _due(now: datetime) -> Any:
    return or_(
        (EventRow.state == EventState.new.value) & (EventRow.next_attempt_at <= now),
        (EventRow.state == EventState.processing.value) & (EventRow.claimed_until < now),
    )


def _live(row: EventRow, now: datetime) -> bool:
    return (
        row.state == EventState.processing.value
        and row.claimed_until is not None
        and row.claimed_until >= now
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _busy(holder: EventRow, item: str) -> str:
    since = _stamp(holder.claimed_at) if holder.claimed_at else "an unknown time"
    until = _stamp(holder.claimed_until) if holder.claimed_until else "now"
    what = (
        f"a synchronization of {item!r} is already running"
        if holder.action == Action.read.value
        else f"event {holder.id} ({holder.action}) of {item!r} is being run"
    )
    return (
        f"{what}: event {holder.id} has held it since {since}; its lease runs until {until}"
        " and is renewed while the run is alive. Wait for it to end; if its worker died,"
        " the next `calsync sync` or worker takes it over once the lease has run out"
    )


class EventRepository:
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

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.session, EVENTS, rows)

    def get(self, event_id: int) -> EventRow:
        row = self.session.get(EventRow, event_id)
        if row is None:
            raise NotFound(f"no event {event_id}")
        return row

    def claim(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 1,
        item_ids: Collection[int] | None = None,
        reads: bool = True,
    ) -> list[EventRow]:
        """Up to `limit` events that are due (or whose run's lease ran out), each marked
        processing under a new claim token (`claim_of` gives its `Claim`).

        Reads come first: a backlog of thousands of outbound events never delays a due
        read. Only one read of a calendar runs at a time (the unique partial index
        `uq_events_one_read_in_progress` is the last word). An outbound event waits for
        the earlier unfinished events of its reservation, so writes of one calendar object
        keep their order and never run at once, whatever the number of workers.
        `item_ids` limits the claim to those items' events, `reads=False` to outbound ones.
        """
        claimed = self._claim_reads(now, lease, limit, item_ids) if reads else []
        if len(claimed) < limit:
            claimed += self._claim_outbound(now, lease, limit - len(claimed), item_ids)
        self.session.flush()
        return claimed

    def _claim_reads(
        self, now: datetime, lease: timedelta, limit: int, item_ids: Collection[int] | None
    ) -> list[EventRow]:
        other = aliased(EventRow)
        reading = exists().where(
            other.item_id == EventRow.item_id,
            other.id != EventRow.id,
            other.action == Action.read.value,
            other.state == EventState.processing.value,
            other.claimed_until >= now,
        )
        query = (
            select(EventRow)
            .where(_due(now), EventRow.action == Action.read.value, ~reading)
            # A read whose run died first: it holds the calendar's slot in the index.
            .order_by(
                (EventRow.state == EventState.processing.value).desc(),
                EventRow.next_attempt_at,
                EventRow.id,
            )
            .limit(limit * 4)
        )
        if item_ids is not None:
            query = query.where(EventRow.item_id.in_(item_ids))
        claimed: list[EventRow] = []
        reading_items: set[int] = set()
        for row in self.session.scalars(self._skip_locked(query)):
            if row.item_id in reading_items or len(claimed) == limit:
                continue  # one synchronization of a calendar at a time
            reading_items.add(row.item_id)
            claimed.append(self._take(row, now, lease))
        return claimed

    def _claim_outbound(
        self, now: datetime, lease: timedelta, limit: int, item_ids: Collection[int] | None
    ) -> list[EventRow]:
        """Outbound events by turns across items: each item's oldest due event first, then
        each one's second, ... so one room's backlog of answers does not hold another's
        booking back."""
        earlier = aliased(EventRow)
        waits = exists().where(
            earlier.reservation_id == EventRow.reservation_id,
            earlier.id < EventRow.id,
            earlier.action != Action.read.value,
            earlier.state.in_([EventState.new.value, EventState.processing.value]),
        )
        due = select(
            EventRow.id,
            func.row_number()
            .over(partition_by=EventRow.item_id, order_by=(EventRow.next_attempt_at, EventRow.id))
            .label("turn"),
        ).where(
            _due(now),
            EventRow.action != Action.read.value,
            or_(EventRow.reservation_id.is_(None), ~waits),
        )
        if item_ids is not None:
            due = due.where(EventRow.item_id.in_(item_ids))
        turns = due.subquery()
        query = (
            select(EventRow)
            .join(turns, turns.c.id == EventRow.id)
            .order_by(turns.c.turn, EventRow.next_attempt_at, EventRow.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=EventRow)
        return [self._take(row, now, lease) for row in self.session.scalars(query)]

    def claim_one(self, event_id: int, now: datetime, lease: timedelta) -> EventRow:
        """This event, marked processing under a new claim token: to run it now, outside
        the queue order (`calsync sync`, `events reprocess`).

        A read takes over its calendar from a run whose lease ran out (a `kill -9`ed
        `calsync sync`, a dead worker): that run's event goes back to the queue and its
        token no longer holds. A live claim is refused with `CalendarBusy` (or
        `EventBusy`), naming the event that holds it, since when and until when.
        """
        row = self._locked(event_id)
        if _live(row, now):
            raise EventBusy(_busy(row, self._item_name(row.item_id)))
        if row.action == Action.read.value:
            for holder in self._reading(row.item_id, row.id):
                if _live(holder, now):
                    raise CalendarBusy(_busy(holder, self._item_name(row.item_id)))
                holder.error = (
                    f"its run stopped (lease ran out at {_stamp(holder.claimed_until or now)});"
                    f" event {row.id} took the calendar over"
                )
                holder.state, holder.claimed_until, holder.claimed_at = "new", None, None
                holder.next_attempt_at, holder.updated_at = now, now
                self.session.flush()  # the slot in the index is free before ours takes it
        self._take(row, now, lease)
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise CalendarBusy(
                f"a synchronization of {self._item_name(row.item_id)!r} started a moment ago"
                f" (event {event_id} waits in the queue); try again in a minute"
            ) from exc
        return row

    def hold(self, claim: Claim, now: datetime, lease: timedelta) -> EventRow:
        """Check, in the current transaction, that `claim` still holds its event, and
        extend its lease to `now + lease`; `ClaimLost` if not.

        The fence of DESIGN invariant 6. Every commit of a run calls it first, in the
        transaction it commits, so a run that lost its event to another worker (its
        lease ran out while it stalled, and the event was claimed again) commits nothing
        more: each page commit and the final commit of a read (`calsync.sync.pull`), the
        failure bookkeeping of the runner, and the lease renewals of the heartbeat.
        Outbound sending must call it twice: in a transaction just before it sends (so a
        run that lost its claim sends nothing), and in the transaction of its final
        commit (so it does not mark processed what another run now owns).

        PostgreSQL locks the event's row (`SELECT ... FOR UPDATE`) until the transaction
        ends, so no claim can change between this check and the commit; SQLite's
        transactions are already serialized (`BEGIN IMMEDIATE`).
        """
        row = self._locked(claim.event_id)
        if row.state != EventState.processing.value or row.claim_token != claim.token:
            raise ClaimLost(
                f"event {claim.event_id} is no longer held by this run (claim {claim.token};"
                f" now {row.state}, claim {row.claim_token}): another worker took it over"
            )
        row.claimed_until = now + lease
        self.session.flush()
        return row

    def release(self, claim: Claim, now: datetime) -> bool:
        """Give the event back to the queue, due now (a worker stopping before it runs
        it); False if the claim no longer held it."""
        try:
            row = self.hold(claim, now, timedelta(0))
        except ClaimLost:
            return False
        row.state, row.claimed_until, row.claimed_at = EventState.new.value, None, None
        row.next_attempt_at, row.updated_at = now, now
        self.session.flush()
        return True

    def count_outbound(self, item_ids: Collection[int], now: datetime) -> int:
        """How many outbound events of these items are due now."""
        return (
            self.session.scalar(
                select(func.count())
                .select_from(EventRow)
                .where(
                    EventRow.item_id.in_(item_ids),
                    EventRow.action != Action.read.value,
                    _due(now),
                )
            )
            or 0
        )

    def queue_read(
        self,
        item_id: int,
        now: datetime,
        payload: dict[str, Any],
        due_before: datetime | None = None,
    ) -> int | None:
        """The id of the item's queued read with this payload: a waiting one, else a new one.

        With `due_before` this is a poll: it is queued only if the item was last read
        before then and no read of it is waiting or running (a waiting read of any kind
        serves it, and its id is returned; otherwise None). Two workers polling at once
        queue one read: on PostgreSQL the check and the insert run under a per-item
        advisory lock; SQLite's writers already take turns.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :item_id)"),
                {"space": READ_QUEUE_LOCK, "item_id": item_id},
            )
        reads = list(
            self.session.scalars(
                select(EventRow).where(
                    EventRow.item_id == item_id,
                    EventRow.action == Action.read.value,
                    EventRow.state.in_([EventState.new.value, EventState.processing.value]),
                )
            )
        )
        waiting = [row for row in reads if row.state == EventState.new.value]
        if due_before is not None:
            if waiting:
                return waiting[0].id
            read_at = self.session.scalar(
                select(ItemRow.synchronized_at).where(ItemRow.id == item_id)
            )
            if reads or (read_at is not None and read_at > due_before):
                return None
        encoded = json.dumps(payload, sort_keys=True, default=str)
        for row in waiting:
            if json.loads(row.payload) == json.loads(encoded):
                return row.id
        return self.add(item_id, Action.read, now, payload).id

    def _take(self, row: EventRow, now: datetime, lease: timedelta) -> EventRow:
        row.state, row.claimed_until, row.claimed_at = "processing", now + lease, now
        row.claim_token, row.updated_at = row.claim_token + 1, now
        return row

    def _locked(self, event_id: int) -> EventRow:
        query = select(EventRow).where(EventRow.id == event_id)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
        if row is None:
            raise NotFound(f"no event {event_id}")
        return row

    def _reading(self, item_id: int, other_than: int) -> list[EventRow]:
        query = select(EventRow).where(
            EventRow.item_id == item_id,
            EventRow.id != other_than,
            EventRow.action == Action.read.value,
            EventRow.state == EventState.processing.value,
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return list(self.session.scalars(query.execution_options(populate_existing=True)))

    def _skip_locked(self, query: Select[Any]) -> Select[Any]:
        if self.session.get_bind().dialect.name == "postgresql":
            return query.with_for_update(skip_locked=True)
        return query

    def _item_name(self, item_id: int) -> str:
        return self.session.scalar(select(ItemRow.name).where(ItemRow.id == item_id)) or str(
            item_id
        )

    def find(self, where: RecordFilter) -> list[EventRow]:
        query = _filtered(select(EventRow), EventRow, where, EventRow.state)
        if where.action:
            query = query.where(EventRow.action == where.action)
        return list(self.session.scalars(query.order_by(EventRow.id.desc()).limit(where.limit)))


class CalendarItemRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.session, CALENDAR_ITEMS, rows)

    def get(self, calendar_item_id: int) -> CalendarItemRow:
        row = self.session.get(CalendarItemRow, calendar_item_id)
        if row is None:
            raise NotFound(f"no calendar item {calendar_item_id}")
        return row

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
    return query
