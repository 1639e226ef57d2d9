"""Claiming events from the queue: `Claim`, the fencing token of a run, and `EventClaims`,
the claiming half of `EventRepository` (`claim`, `claim_one`, `hold`, `release`,
`queue_read`).

A claim marks an event `processing` until its lease runs out and increments the event's
claim token. A run holds its event only as long as the token is its own: every commit of
a run checks it first (`hold`), so a run that stalled past its lease and lost the event to
another worker commits nothing more (DESIGN invariant 6). Reads are claimed before
outbound events, outbound events by turns across items; one read of a calendar runs at a
time, and one due poll is queued once whatever the number of workers.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from calsync.domain.events import Action, EventState
from calsync.errors import CalendarBusy, ClaimLost, EventBusy, NotFound
from calsync.store.tables import EventRow, ItemRow, ReservationRow

#: PostgreSQL advisory lock space of "queueing a read of this item" (`queue_read`).
READ_QUEUE_LOCK = 0x72656164  # "read"


@dataclass(frozen=True)
class Claim:
    """A run's hold on one event: the event and the fencing token its claim received.

    The token grows with every claim of the event, so a run whose lease ran out and whose
    event was claimed again holds an old token: `EventRepository.hold` refuses it.
    """

    event_id: int
    token: int
    #: The event's action, as claimed: room answers are sent together (worker.answers).
    action: str = ""
    #: For a room answer, the series it answers (its item and reservation's UID), so that
    #: a series' answers are sent in one run; "" when not known.
    series: str = ""

    @classmethod
    def of(cls, row: EventRow, series: str = "") -> Claim:
        return cls(row.id, row.claim_token, row.action, series)


def _due(now: datetime) -> Any:
    return _due_in(EventRow, now)


def _due_in(events: Any, now: datetime) -> Any:
    """Due: new and its time has come, or processing under a lease that ran out."""
    return or_(
        (events.state == EventState.new.value) & (events.next_attempt_at <= now),
        (events.state == EventState.processing.value) & (events.claimed_until < now),
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


class EventClaims:
    """The claiming half of `EventRepository` (which gives it `session` and `add`)."""

    session: Session

    def add(
        self,
        item_id: int,
        action: Action,
        now: datetime,
        payload: dict[str, Any],
        reservation_id: str | None = None,
    ) -> EventRow:
        raise NotImplementedError

    def claim(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 1,
        item_ids: Collection[int] | None = None,
        reads: bool = True,
        outbound: bool = True,
    ) -> list[EventRow]:
        """Up to `limit` events that are due (or whose run's lease ran out), each marked
        processing under a new claim token (`claim_of` gives its `Claim`).

        Reads come first: a backlog of thousands of outbound events never delays a due
        read. Only one read of a calendar runs at a time (the unique partial index
        `uq_events_one_read_in_progress` is the last word). An outbound event waits for
        the earlier unfinished events of its reservation, so writes of one calendar object
        keep their order and never run at once, whatever the number of workers.
        `item_ids` limits the claim to those items' events; `reads=False` claims only
        outbound events, `outbound=False` only reads (a worker claims reads for its free
        slots, a read being long, and outbound events ahead).
        """
        claimed = self._claim_reads(now, lease, limit, item_ids) if reads else []
        if outbound and len(claimed) < limit:
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
        booking back; within an item, bookings made in calsync (create, update, delete)
        before the room's answers."""
        # Each reservation's oldest unfinished outbound event is its head; only a head may
        # run. One window over the unfinished events (a sort), not a lookup of earlier
        # events per due one: with stale planner statistics PostgreSQL ran that lookup as
        # a scan of every unfinished event, for each of them (0.5 s a claim at 5,000).
        unfinished = select(
            EventRow.id,
            EventRow.item_id,
            EventRow.action,
            EventRow.state,
            EventRow.next_attempt_at,
            EventRow.claimed_until,
            func.row_number()
            .over(partition_by=EventRow.reservation_id, order_by=EventRow.id)
            .label("place"),
            EventRow.reservation_id,
        ).where(
            EventRow.action != Action.read.value,
            EventRow.state.in_([EventState.new.value, EventState.processing.value]),
        )
        if item_ids is not None:
            unfinished = unfinished.where(EventRow.item_id.in_(item_ids))
        pending = unfinished.subquery()
        head = or_(pending.c.reservation_id.is_(None), pending.c.place == 1)
        due = select(
            pending.c.id,
            func.row_number()
            .over(
                partition_by=pending.c.item_id,
                # A booking made in calsync before the room's answers to the calendar.
                order_by=(
                    (pending.c.action == Action.respond.value),
                    pending.c.next_attempt_at,
                    pending.c.id,
                ),
            )
            .label("turn"),
        ).where(head, _due_in(pending.c, now))
        turns = due.subquery()
        query = (
            select(EventRow)
            .join(turns, turns.c.id == EventRow.id)
            # Bookings made in calsync before any room's answers: a booking queued after a
            # first synchronization's answers would otherwise wait for all of them, each
            # room's next answer taking its turn before it.
            .order_by(
                (EventRow.action == Action.respond.value),
                turns.c.turn,
                EventRow.next_attempt_at,
                EventRow.id,
            )
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=EventRow)
        return [self._take(row, now, lease) for row in self.session.scalars(query)]

    def claims_of(self, rows: Collection[EventRow]) -> list[Claim]:
        """The claims of these claimed events, each room answer's naming the series it
        answers (`Claim.series`)."""
        answers = [row.reservation_id for row in rows if row.action == Action.respond.value]
        uids: dict[str, str] = {}
        if any(answers):
            query = select(ReservationRow.id, ReservationRow.uid).where(
                ReservationRow.id.in_({a for a in answers if a})
            )
            uids = dict(self.session.execute(query).all())
        return [
            Claim.of(row, f"{row.item_id}:{uids[row.reservation_id]}")
            if row.reservation_id in uids
            else Claim.of(row)
            for row in rows
        ]

    def series_answered(self, event_ids: Collection[int]) -> list[tuple[int, str]]:
        """(item id, UID) of the reservations that these room answers (respond events)
        answer: the series they belong to, where each instance is an object of its own."""
        query = (
            select(EventRow.item_id, ReservationRow.uid)
            .join(ReservationRow, ReservationRow.id == EventRow.reservation_id)
            .where(EventRow.id.in_(event_ids), EventRow.action == Action.respond.value)
            .distinct()
        )
        return [(item_id, uid) for item_id, uid in self.session.execute(query)]

    def claim_series_answers(
        self,
        series: Collection[tuple[int, str]],
        held: Collection[int],
        now: datetime,
        lease: timedelta,
        limit: int,
    ) -> list[EventRow]:
        """Up to `limit` more room answers of these series ((item id, UID) of the
        reservations they answer), besides the events `held`, each claimed as `claim`
        would: due, and the oldest unfinished outbound event of its reservation. So that
        a series' answers are written together (`calsync.sync.series`)."""
        if not series:
            return []
        earlier = aliased(EventRow)
        waits = exists().where(
            earlier.reservation_id == EventRow.reservation_id,
            earlier.id < EventRow.id,
            earlier.action != Action.read.value,
            earlier.state.in_([EventState.new.value, EventState.processing.value]),
        )
        of_series = or_(
            *(
                and_(EventRow.item_id == item_id, ReservationRow.uid == uid)
                for item_id, uid in series
            )
        )
        query = (
            select(EventRow)
            .join(ReservationRow, ReservationRow.id == EventRow.reservation_id)
            .where(
                EventRow.action == Action.respond.value,
                of_series,
                EventRow.id.not_in(held),
                _due(now),
                ~waits,
            )
            .order_by(EventRow.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=EventRow)
        claimed = [self._take(row, now, lease) for row in self.session.scalars(query)]
        self.session.flush()
        return claimed

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

    def hold_all(
        self, claims: Collection[Claim], now: datetime, lease: timedelta
    ) -> dict[int, EventRow]:
        """`hold` for many claims in one statement: the rows of those that still hold
        their event (by event id), their leases extended; the others are left alone."""
        if not claims:
            return {}
        tokens = {claim.event_id: claim.token for claim in claims}
        query = select(EventRow).where(EventRow.id.in_(sorted(tokens))).order_by(EventRow.id)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        held = {
            row.id: row
            for row in self.session.scalars(query.execution_options(populate_existing=True))
            if row.state == EventState.processing.value and row.claim_token == tokens[row.id]
        }
        for row in held.values():
            row.claimed_until = now + lease
        self.session.flush()
        return held

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
        hint: bool = False,
    ) -> int | None:
        """The id of the item's queued read with this payload: a waiting one, else a new one.

        With `due_before` this is a poll: it is queued only if the item was last read
        before then and no read of it is waiting or running (a waiting read of any kind
        serves it, and its id is returned; otherwise None). With `hint` this is a push
        notification: a waiting read of any kind serves it, as it will see the change;
        a running one may have listed the calendar before it, so a new read is queued.
        Two workers polling at once (or five notifications arriving at once) queue one
        read: on PostgreSQL the check and the insert run under a per-item advisory lock;
        SQLite's writers already take turns.
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
        if hint and waiting:
            return waiting[0].id
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
