"""Retention of the exchange log: `purge(services, now)` deletes what outlived `[retention]`.

Every poll of every calendar is a read event with its request and response, and every
change a calendar item with its payload: 500 rooms polled every five minutes make 144,000
events a day. `purge` keeps

- processed events, with their calendar items, `processed_days` after they were processed;
- events in error, and events with a failed calendar item, `error_days`;
- synchronization summaries `synchronization_days`, except the newest of each item and
  any that a kept event or calendar item points to;

and never deletes an event that is new or processing, nor one with a calendar item still
pending or awaiting approval (0 days keeps forever). An event goes with all of its
calendar items or not at all.

Rows older than the cutoffs are walked by primary key in windows of `batch`, and at
most `batch` rows are deleted per transaction: a worker waiting for the database waits
milliseconds, not for the whole purge. Each DELETE repeats its condition, so a row that
changed after it was read (an event put back in the queue) is not deleted.

The worker calls `purge` once `purge_due` says so (`retention.interval_minutes`);
`calsync purge [--dry-run]` runs it by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, case, delete, exists, func, select
from sqlalchemy.orm import Session

from calsync.domain.events import CalendarItemStatus, EventState
from calsync.domain.synchronizations import SyncOutcome
from calsync.store.tables import CalendarItemRow, EventRow, SynchronizationRow

if TYPE_CHECKING:
    from calsync.bootstrap import Services
    from calsync.config import RetentionSettings
    from calsync.store.unit_of_work import UnitOfWork

EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
ITEMS: Table = CalendarItemRow.__table__  # type: ignore[assignment]
SYNCS: Table = SynchronizationRow.__table__  # type: ignore[assignment]

#: Calendar items that still wait for something: their event stays.
WAITING = (CalendarItemStatus.pending.value, CalendarItemStatus.awaiting_approval.value)
FINISHED = (EventState.processed.value, EventState.error.value)


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted (or, in a dry run, would delete), per table."""

    events: int = 0
    calendar_items: int = 0
    synchronizations: int = 0
    dry_run: bool = False
    transactions: int = 0


@dataclass(frozen=True)
class Cutoffs:
    """Rows finished before these instants are due; None keeps them forever."""

    processed: datetime | None
    error: datetime | None
    synchronization: datetime | None

    @classmethod
    def of(cls, retention: RetentionSettings, now: datetime) -> Cutoffs:
        def before(days: int) -> datetime | None:
            return now - timedelta(days=days) if days else None

        return cls(
            before(retention.processed_days),
            before(retention.error_days),
            before(retention.synchronization_days),
        )

    @property
    def newest_event_cutoff(self) -> datetime | None:
        given = [c for c in (self.processed, self.error) if c is not None]
        return max(given) if given else None


def purge_due(services: Services, last_purge: datetime | None, now: datetime) -> bool:
    """Whether a worker that last purged at `last_purge` (None: never) purges now."""
    every = timedelta(minutes=services.settings.retention.interval_minutes)
    return last_purge is None or now - last_purge >= every


def purge(
    services: Services, now: datetime, dry_run: bool = False, batch: int | None = None
) -> PurgeReport:
    """Delete (or with `dry_run` only count) what `[retention]` no longer keeps."""
    cutoffs = Cutoffs.of(services.settings.retention, now)
    size = batch or services.settings.retention.batch
    events = _EventPurge(services, cutoffs, size, dry_run)
    events.run()
    synchronizations = _SynchronizationPurge(services, cutoffs, size, dry_run)
    synchronizations.run()
    return PurgeReport(
        events=events.events,
        calendar_items=events.calendar_items,
        synchronizations=synchronizations.deleted,
        dry_run=dry_run,
        transactions=events.transactions + synchronizations.transactions,
    )


@dataclass(frozen=True)
class _Event:
    """An event as retention sees it."""

    id: int
    state: str
    updated_at: datetime
    created_at: datetime
    waiting: bool
    failed: bool
    items: int


def _event_rows(
    session: Session, where: ColumnElement[bool], limit: int, cutoff: datetime
) -> list[_Event]:
    """The events `where` selects (by id, at most `limit`); their calendar items are
    looked at only for those finished before `cutoff`, the ones that may be due."""
    rows = session.execute(
        select(EVENTS.c.id, EVENTS.c.state, EVENTS.c.updated_at, EVENTS.c.created_at)
        .where(where)
        .order_by(EVENTS.c.id)
        .limit(limit)
    ).all()
    maybe = [row.id for row in rows if row.state in FINISHED and row.updated_at < cutoff]
    items: dict[int, tuple[int, int, int]] = {}
    for chunk in _chunks(maybe):
        for event_id, count, waiting, failed in session.execute(
            select(
                ITEMS.c.event_id,
                func.count(),
                func.sum(case((ITEMS.c.status.in_(WAITING), 1), else_=0)),
                func.sum(case((ITEMS.c.status == CalendarItemStatus.failed.value, 1), else_=0)),
            )
            .where(ITEMS.c.event_id.in_(chunk))
            .group_by(ITEMS.c.event_id)
        ):
            items[event_id] = (count, waiting, failed)
    events = []
    for row in rows:
        count, waiting, failed = items.get(row.id, (0, 0, 0))
        events.append(_Event(*row, waiting=waiting > 0, failed=failed > 0, items=count))
    return events


def _expired(event: _Event, cutoffs: Cutoffs) -> bool:
    if event.waiting or event.state not in FINISHED:
        return False
    clean = event.state == EventState.processed.value and not event.failed
    cutoff = cutoffs.processed if clean else cutoffs.error
    return cutoff is not None and event.updated_at < cutoff


class _EventPurge:
    def __init__(self, services: Services, cutoffs: Cutoffs, batch: int, dry_run: bool) -> None:
        self.services, self.cutoffs, self.batch, self.dry_run = services, cutoffs, batch, dry_run
        self.events = self.calendar_items = self.transactions = 0

    def run(self) -> None:
        newest = self.cutoffs.newest_event_cutoff
        after = 0
        while newest is not None:
            with self._unit_of_work() as uow:
                older = (EVENTS.c.id > after) & (EVENTS.c.created_at < newest)
                window = _event_rows(uow.session, older, self.batch, newest)
                if not window:
                    return
                due = [event for event in window if _expired(event, self.cutoffs)]
                done_through: int | None = None
                if self.dry_run:
                    self._count(due)
                else:
                    done_through = self._delete(uow.session, due)
                    uow.commit()
                    self.transactions += 1
            if done_through is not None:
                after = done_through
                continue
            after = window[-1].id
            if len(window) < self.batch:
                return

    def _unit_of_work(self) -> UnitOfWork:
        return self.services.read() if self.dry_run else self.services.uow()

    def _count(self, due: list[_Event]) -> None:
        self.events += len(due)
        self.calendar_items += sum(event.items for event in due)

    def _delete(self, session: Session, due: list[_Event]) -> int | None:
        """Delete the window's due events, at most `batch` rows; the id up to which the
        window is done, or None when it is done whole."""
        taken, rows = [], 0
        for event in due:
            if rows + event.items + 1 > self.batch:
                break
            taken.append(event)
            rows += event.items + 1
        if not taken and due:  # one event with more calendar items than a batch
            deleted = self._delete_items_of([due[0].id], session, self.batch)
            self.calendar_items += deleted
            return due[0].id - 1 if deleted else due[0].id  # its next part, or past it
        ids = [event.id for event in taken]
        self.calendar_items += self._delete_items_of(ids, session)
        self.events += _rowcount(
            session.execute(
                delete(EVENTS).where(
                    EVENTS.c.id.in_(ids),
                    self._still_due(EVENTS),
                    ~exists().where(ITEMS.c.event_id == EVENTS.c.id),
                )
            )
        )
        return None if len(taken) == len(due) else taken[-1].id

    def _delete_items_of(self, ids: list[int], session: Session, limit: int | None = None) -> int:
        if not ids:
            return 0
        still_due = select(EVENTS.c.id).where(EVENTS.c.id.in_(ids), self._still_due(EVENTS))
        chosen = select(ITEMS.c.id).where(ITEMS.c.event_id.in_(still_due))
        if limit is not None:
            chosen = chosen.limit(limit)
        return _rowcount(session.execute(delete(ITEMS).where(ITEMS.c.id.in_(chosen))))

    def _still_due(self, events: Table) -> ColumnElement[bool]:
        """The loosest condition under which a read event was due: it is still finished
        and was not touched since (a reprocessed event is `new`, updated now)."""
        newest = self.cutoffs.newest_event_cutoff
        assert newest is not None
        waiting = exists().where(ITEMS.c.event_id == events.c.id, ITEMS.c.status.in_(WAITING))
        return events.c.state.in_(FINISHED) & (events.c.updated_at < newest) & ~waiting


class _SynchronizationPurge:
    def __init__(self, services: Services, cutoffs: Cutoffs, batch: int, dry_run: bool) -> None:
        self.services, self.cutoffs, self.batch, self.dry_run = services, cutoffs, batch, dry_run
        self.deleted = self.transactions = 0
        self._newest: dict[int, int | None] = {}

    def run(self) -> None:
        cutoff = self.cutoffs.synchronization
        after = 0
        while cutoff is not None:
            with self._unit_of_work() as uow:
                window = uow.session.execute(
                    select(SYNCS.c.id, SYNCS.c.item_id, SYNCS.c.started_at, SYNCS.c.outcome)
                    .where(SYNCS.c.id > after, SYNCS.c.started_at < cutoff)
                    .order_by(SYNCS.c.id)
                    .limit(self.batch)
                ).all()
                if not window:
                    return
                old = [
                    row.id
                    for row in window
                    if row.started_at < cutoff
                    and row.outcome != SyncOutcome.running.value
                    and row.id != self._newest_of(uow.session, row.item_id)
                ]
                kept = self._referenced(uow.session, old)
                due = [sync_id for sync_id in old if sync_id not in kept]
                if self.dry_run:
                    self.deleted += len(due)
                elif due:
                    self.deleted += self._delete(uow.session, due, cutoff)
                    uow.commit()
                    self.transactions += 1
            after = window[-1].id
            if len(window) < self.batch:
                return

    def _unit_of_work(self) -> UnitOfWork:
        return self.services.read() if self.dry_run else self.services.uow()

    def _newest_of(self, session: Session, item_id: int) -> int | None:
        if item_id not in self._newest:
            self._newest[item_id] = session.scalar(
                select(SYNCS.c.id)
                .where(SYNCS.c.item_id == item_id)
                .order_by(SYNCS.c.id.desc())
                .limit(1)
            )
        return self._newest[item_id]

    def _referenced(self, session: Session, ids: list[int]) -> set[int]:
        """The synchronizations among `ids` that an event or calendar item (in a dry run:
        one the purge keeps) points to."""
        links: list[Any] = []
        for chunk in _chunks(ids):
            links += session.execute(
                select(EVENTS.c.synchronization_id, EVENTS.c.id).where(
                    EVENTS.c.synchronization_id.in_(chunk)
                )
            ).all()
            links += session.execute(
                select(ITEMS.c.synchronization_id, ITEMS.c.event_id)
                .where(ITEMS.c.synchronization_id.in_(chunk))
                .distinct()
            ).all()
        if not self.dry_run:
            return {sync_id for sync_id, _ in links}
        newest = self.cutoffs.newest_event_cutoff
        if newest is None:  # events are kept forever, and so what they point to
            return {sync_id for sync_id, _ in links}
        events: dict[int, _Event] = {}
        for chunk in _chunks({event_id for _, event_id in links}):
            for event in _event_rows(session, EVENTS.c.id.in_(chunk), len(chunk), newest):
                events[event.id] = event
        return {
            sync_id
            for sync_id, event_id in links
            if event_id in events and not _expired(events[event_id], self.cutoffs)
        }

    def _delete(self, session: Session, ids: list[int], cutoff: datetime) -> int:
        return _rowcount(
            session.execute(
                delete(SYNCS).where(
                    SYNCS.c.id.in_(ids),
                    SYNCS.c.started_at < cutoff,
                    SYNCS.c.outcome != SyncOutcome.running.value,
                    ~exists().where(EVENTS.c.synchronization_id == SYNCS.c.id),
                    ~exists().where(ITEMS.c.synchronization_id == SYNCS.c.id),
                )
            )
        )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _chunks(values: Iterable[int], size: int = 1000) -> Sequence[list[int]]:
    ordered = sorted(values)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]
