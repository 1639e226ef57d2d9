"""`apply_pending(services, item_id)`: carry out the pending calendar items of one item.

Each calendar item is read (`read_calendar_object`), decided (`decide`, a pure plan) and
its plan written. Items are applied in batches, one transaction per batch, so that a
full synchronization of ten thousand entries is not ten thousand commits. Bad input fails
only its own calendar item, with the reason. When the room must answer the organizer,
a `respond` event is written in the same transaction (the outbox).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from calsync.bootstrap import Services
from calsync.domain.calendar_objects import read_calendar_object
from calsync.domain.decide import Cancel, Change, Create, Plan, Update, decide, decide_removal
from calsync.domain.entries import CalendarObject, Window
from calsync.domain.events import Action, CalendarItemKind, CalendarItemStatus
from calsync.domain.occupancy import Occupancy
from calsync.domain.reservations import Reservation, ReservationStatus
from calsync.errors import DoubleBooking, InvalidCalendarData
from calsync.store.items import StoredItem
from calsync.store.tables import CalendarItemRow
from calsync.store.unit_of_work import UnitOfWork


@dataclass
class ApplyReport:
    applied: int = 0
    skipped: int = 0
    rejected: int = 0
    failed: int = 0

    def count(self, status: CalendarItemStatus) -> None:
        if status == CalendarItemStatus.applied:
            self.applied += 1
        elif status == CalendarItemStatus.skipped:
            self.skipped += 1
        elif status == CalendarItemStatus.rejected:
            self.rejected += 1
        elif status == CalendarItemStatus.failed:
            self.failed += 1


@dataclass
class _Writes:
    creates: list[Reservation] = field(default_factory=list)
    updates: list[Reservation] = field(default_factory=list)


def synchronization_window(stored: StoredItem, now: datetime) -> Window:
    binding = stored.item.binding
    past = binding.window_past if binding else timedelta(days=30)
    ahead = binding.window_ahead if binding else timedelta(days=365)
    return Window(now - past, now + ahead)


def apply_pending(services: Services, item_id: int) -> ApplyReport:
    report = ApplyReport()
    now = services.clock()
    with services.uow() as uow:
        stored = uow.items.by_id(item_id)
    window = synchronization_window(stored, now)
    occupancy: Occupancy | None = None
    batch_size = services.settings.sync.apply_batch
    while True:
        with services.uow() as uow:
            rows = uow.calendar_items.pending(item_id, batch_size)
            if not rows:
                return report
            if occupancy is None:
                occupancy = Occupancy(uow.reservations.holding_spans(item_id, window))
            try:
                _apply_batch(uow, stored, rows, occupancy, window, now, report)
                uow.commit()
            except DoubleBooking:
                # Someone else booked meanwhile: redo this batch against the fresh state.
                uow.rollback()
                occupancy = None
                _apply_one_by_one(services, stored, window, now, report, [r.id for r in rows])


def _apply_one_by_one(
    services: Services,
    stored: StoredItem,
    window: Window,
    now: datetime,
    report: ApplyReport,
    ids: Sequence[int],
) -> None:
    for calendar_item_id in ids:
        with services.uow() as uow:
            occupancy = Occupancy(uow.reservations.holding_spans(stored.id, window))
            row = uow.calendar_items.get(calendar_item_id)
            try:
                _apply_batch(uow, stored, [row], occupancy, window, now, report)
            except DoubleBooking as exc:
                uow.rollback()
                row = uow.calendar_items.get(calendar_item_id)
                _fail(row, f"double booking refused by the database: {exc}", now)
                report.count(CalendarItemStatus.failed)
            uow.commit()


def _apply_batch(
    uow: UnitOfWork,
    stored: StoredItem,
    rows: Sequence[CalendarItemRow],
    occupancy: Occupancy,
    window: Window,
    now: datetime,
    report: ApplyReport,
) -> None:
    writes = _Writes()
    readable = _read_all(rows, stored, window, now, report)
    existing = _existing(uow, stored, readable)
    for row, obj in _in_booking_order(readable):
        status = _apply_one(uow, stored, row, obj, existing, occupancy, window, now, writes)
        report.count(status)
    uow.reservations.add_many(writes.creates, now)
    uow.reservations.update_many(writes.updates, now)


def _read_all(
    rows: Sequence[CalendarItemRow],
    stored: StoredItem,
    window: Window,
    now: datetime,
    report: ApplyReport,
) -> list[tuple[CalendarItemRow, CalendarObject | None]]:
    """Each row with its calendar object (None for a cancellation); unreadable rows fail."""
    readable: list[tuple[CalendarItemRow, CalendarObject | None]] = []
    for row in rows:
        if row.kind == CalendarItemKind.cancellation.value:
            readable.append((row, None))
            continue
        try:
            data = row.provider_payload.encode()
            readable.append((row, read_calendar_object(data, stored.item.time_zone, window)))
        except InvalidCalendarData as exc:
            _fail(row, f"{row.provider_id}: {exc.reason}", now)
            report.count(CalendarItemStatus.failed)
    return readable


def _in_booking_order(
    readable: list[tuple[CalendarItemRow, CalendarObject | None]],
) -> list[tuple[CalendarItemRow, CalendarObject | None]]:
    """Cancellations first (they free the room), then first booked, first served (DTSTAMP)."""

    def order(pair: tuple[CalendarItemRow, CalendarObject | None]) -> tuple[int, datetime, int]:
        row, obj = pair
        if obj is None:
            return (0, datetime.min.replace(tzinfo=UTC), row.id)
        return (1, obj.master.dtstamp or datetime.max.replace(tzinfo=UTC), row.id)

    return sorted(readable, key=order)


def _existing(
    uow: UnitOfWork,
    stored: StoredItem,
    readable: list[tuple[CalendarItemRow, CalendarObject | None]],
) -> dict[str, list[Reservation]]:
    """Reservations by provider id for cancellations, by UID for everything else."""
    uids = [obj.uid for _, obj in readable if obj is not None]
    found: dict[str, list[Reservation]] = dict(uow.reservations.of_uids(stored.id, uids))
    for row, obj in readable:
        if obj is None:
            found[row.provider_id] = uow.reservations.of_provider_id(stored.id, row.provider_id)
    return found


def _apply_one(
    uow: UnitOfWork,
    stored: StoredItem,
    row: CalendarItemRow,
    obj: CalendarObject | None,
    existing: dict[str, list[Reservation]],
    occupancy: Occupancy,
    window: Window,
    now: datetime,
    writes: _Writes,
) -> CalendarItemStatus:
    if obj is None:
        current = existing.get(row.provider_id, [])
        plan = decide_removal(current, occupancy)
    else:
        current = existing.get(obj.uid, [])
        change = Change(obj, row.provider_id, row.provider_version, window)
        plan = decide(change, current, stored.item, occupancy, now, lambda: str(uuid.uuid4()))
        existing[obj.uid] = _after(current, plan)
    _collect(plan, writes)
    if plan.room_partstat is not None:
        _enqueue_answer(uow, stored, row, plan, now)
    status, outcome = _verdict(plan, current)
    row.status, row.outcome, row.applied_at = status.value, outcome, now
    return status


def _collect(plan: Plan, writes: _Writes) -> None:
    for action in plan.actions:
        if isinstance(action, Create):
            writes.creates.append(action.reservation)
        else:
            writes.updates.append(action.reservation)


def _after(current: Sequence[Reservation], plan: Plan) -> list[Reservation]:
    by_id = {r.id: r for r in current}
    for action in plan.actions:
        by_id[action.reservation.id] = action.reservation
    return list(by_id.values())


def _verdict(plan: Plan, current: Sequence[Reservation]) -> tuple[CalendarItemStatus, str]:
    created = [a for a in plan.actions if isinstance(a, Create)]
    updated = [a for a in plan.actions if isinstance(a, Update)]
    cancelled = [a for a in plan.actions if isinstance(a, Cancel)]
    outcome = f"created {len(created)}, updated {len(updated)}, cancelled {len(cancelled)}"
    declined = [a for a in created + updated if a.reservation.status == ReservationStatus.declined]
    if declined:
        outcome += f", declined {len(declined)} ({declined[0].reservation.reason})"
    if plan.changes_nothing or _only_versions_changed(plan, current):
        return CalendarItemStatus.skipped, "no effective change"
    if declined and len(declined) == len(created) + len(updated) and not cancelled:
        return CalendarItemStatus.rejected, outcome
    return CalendarItemStatus.applied, outcome


def _only_versions_changed(plan: Plan, current: Sequence[Reservation]) -> bool:
    before = {r.id: r for r in current}
    for action in plan.actions:
        old = before.get(action.reservation.id)
        if not isinstance(action, Update) or old is None:
            return False
        if action.reservation.provider_version == old.provider_version:
            return False
        if _differs_beyond_version(action.reservation, old):
            return False
    return plan.room_partstat is None


def _differs_beyond_version(a: Reservation, b: Reservation) -> bool:
    return replace(a, provider_version=b.provider_version) != b


def _enqueue_answer(
    uow: UnitOfWork, stored: StoredItem, row: CalendarItemRow, plan: Plan, now: datetime
) -> None:
    binding = stored.item.binding
    assert binding is not None
    first = plan.actions[0].reservation.id if plan.actions else None
    uow.events.add(
        stored.id,
        Action.respond,
        now,
        {
            "item": stored.item.name,
            "provider_id": row.provider_id,
            "room_address": binding.room_address,
            "partstat": plan.room_partstat,
        },
        reservation_id=first,
    )
    if row.synchronization_id is not None:
        uow.synchronizations.count_event(row.synchronization_id)


def _fail(row: CalendarItemRow, error: str, now: datetime) -> None:
    row.status, row.error, row.applied_at = CalendarItemStatus.failed.value, error, now
