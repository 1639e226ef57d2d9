"""`Applier(services, stored, reader).apply()`: carry out the pending calendar items of one
item.

Each calendar item is read (`read_calendar_object`), decided (`decide`, a pure plan) and
its plan written. Items are applied in batches, one transaction per batch, so that a
full synchronization of ten thousand entries is not ten thousand commits. Bad input fails
only its own calendar item, with the reason. When the room must answer the organizer,
a `respond` event is written in the same transaction (the outbox).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.bootstrap import Services
from calsync.domain.approvals import Approval, ApprovalRules
from calsync.domain.decide import (
    NO_APPROVALS,
    Cancel,
    Change,
    Create,
    Plan,
    Update,
    decide,
    decide_removal,
    reservation_key,
)
from calsync.domain.entries import CalendarObject, Window
from calsync.domain.events import Action, CalendarItemKind, CalendarItemStatus
from calsync.domain.occupancy import Occupancy
from calsync.domain.policy import series_refusal
from calsync.domain.reservations import Reservation, ReservationStatus
from calsync.errors import DoubleBooking, InvalidCalendarData, ReservationChanged
from calsync.providers.ical.reader import read_payload
from calsync.store.items import StoredItem
from calsync.store.records import PendingItem, new_event
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.ids import reservation_ids
from calsync.sync.reading import ObjectReader
from calsync.sync.respond import respond_payload
from calsync.sync.waiting import Waiting, keeping, waiting_changes

#: After creating this many reservations, an applier refreshes the planner's statistics once.
STATISTICS_AFTER = 1000


@dataclass
class ApplyReport:
    applied: int = 0
    skipped: int = 0
    rejected: int = 0
    failed: int = 0

    def add(self, other: ApplyReport) -> None:
        self.applied += other.applied
        self.skipped += other.skipped
        self.rejected += other.rejected
        self.failed += other.failed

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
    """What a batch writes, in the order it was decided.

    The order matters: a reservation may take a span that another one, earlier in the
    batch, gave up. Consecutive writes of one kind go to the database together. A changed
    reservation goes with the reservation as it was read: the write is refused if another
    writer (a booking moved or cancelled in calsync, a push) changed it in between.
    """

    runs: list[tuple[bool, list[Reservation], list[Reservation]]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    new_id: Callable[[], str] = field(default_factory=lambda: reservation_ids())
    #: Reservations whose queued changes the calendar made obsolete, with why.
    superseded: dict[str, str] = field(default_factory=dict)
    #: Approvals the batch asks for, each with why.
    approvals: list[tuple[Approval, str]] = field(default_factory=list)
    #: Reservations that waited for approval as read: their requests may be withdrawn.
    were_waiting: set[str] = field(default_factory=set)

    @property
    def created(self) -> int:
        return sum(len(reservations) for is_new, reservations, _ in self.runs if is_new)

    def add(self, reservation: Reservation, as_read: Reservation | None) -> None:
        """A new reservation (`as_read` None) or a changed one, as it was read."""
        is_new = as_read is None
        if not self.runs or self.runs[-1][0] != is_new:
            self.runs.append((is_new, [], []))
        self.runs[-1][1].append(reservation)
        if as_read is not None:
            self.runs[-1][2].append(as_read)
            if as_read.status == ReservationStatus.pending_approval:
                self.were_waiting.add(as_read.id)

    def flush(self, uow: UnitOfWork, item_id: int, now: datetime) -> None:
        for is_new, reservations, as_read in self.runs:
            if is_new:
                uow.reservations.add_many(reservations, now)
            else:
                uow.reservations.update_many(reservations, now, as_read)
        if self.were_waiting:
            why = "the booking changed in the calendar and no longer waits for this approval"
            uow.approvals.withdraw_unless_waiting(self.were_waiting, why, now)
        if self.approvals:
            uow.approvals.request_many(item_id, self.approvals, now)
        uow.events.add_many(self.answers)
        for reservation_id, reason in self.superseded.items():
            uow.events.supersede_waiting([reservation_id], reason, now)
        for synchronization_id, count in Counter(
            a["synchronization_id"] for a in self.answers
        ).items():
            if synchronization_id is not None:
                uow.synchronizations.count_events(synchronization_id, count)


def _capabilities(services: Services, stored: StoredItem) -> tuple[bool, bool]:
    """(room decides, expands instances) of the item's service."""
    binding = stored.item.binding
    if binding is None:
        return False, False
    capabilities = services.provider(binding.connection).capabilities
    return capabilities.room_decides, capabilities.expands_instances


def object_reader(services: Services, stored: StoredItem, now: datetime) -> ObjectReader:
    """A reader for the item's calendar (with its adapter's `read_object`, in a pool of
    processes unless its payloads are cheap to read), over its synchronization window
    from `now`."""
    binding = stored.item.binding
    past = binding.window_past if binding else timedelta(days=30)
    window = Window(now - past, now + (binding.window_ahead if binding else timedelta(days=365)))
    if binding is None:
        return ObjectReader(read_payload, stored.item.time_zone, window)
    provider = services.provider(binding.connection)
    pooled = not provider.capabilities.cheap_to_read
    return ObjectReader(provider.object_reader(), stored.item.time_zone, window, pooled=pooled)


class Applier:
    """Applies one item's pending calendar items in batches, as often as asked: during a
    long read, each page is applied while the provider sends the next one.

    Writing a batch (mostly the database's own work, done without holding the GIL) runs in
    a thread while the next batch is decided; at most one batch is in flight. A batch that
    touches a UID or provider id of the batch in flight waits for it to land. When the
    database refuses the batch in flight (someone else booked meanwhile, or changed a
    reservation the batch changes), the batch decided after it is thrown away and both
    are redone one item at a time, each decided under the item's writer lock. `with` it,
    so that the writer ends.
    """

    def __init__(self, services: Services, stored: StoredItem, reader: ObjectReader) -> None:
        self.services, self.reader = services, reader
        self.item_id, self._stored = stored.id, stored
        self.report = ApplyReport()
        self._occupancy: Occupancy | None = None
        self._statistics_fresh = False
        self._created = 0  # reservations this applier created (its writer thread counts)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="calsync-apply")
        self._in_flight: tuple[_Decided, Future[None]] | None = None
        self._after_id = 0  # calendar items up to this id are written or in flight
        self._batch_size = services.settings.sync.apply_batch
        self._rules = services.settings.approval_rules_in_order()

    def apply(self, through_id: int | None = None) -> ApplyReport:
        """Apply what is pending (up to the calendar item `through_id`) and wait until it
        is written."""
        self.apply_behind(through_id)
        self._land()
        return self.report

    def apply_behind(self, through_id: int | None = None) -> None:
        """Apply what is pending (up to `through_id`); the last batch may still be being
        written when this returns."""
        size = self._batch_size
        while True:
            if self._occupancy is None:
                self._land()
                with self.services.read() as uow:
                    spans = uow.reservations.holding_spans(self.item_id, self.reader.window)
                self._occupancy = Occupancy(spans)
            with self.services.read() as uow:
                rows = uow.calendar_items.pending(self.item_id, size, through_id, self._after_id)
            if not rows:
                return
            decided = self._decide(rows, self._occupancy)
            if decided is not None and self._land():
                self._in_flight = (decided, self._writer.submit(self._write, decided))
                self._after_id = rows[-1].id

    def _decide(self, rows: list[PendingItem], occupancy: Occupancy) -> _Decided | None:
        """The batch decided, or None when the batch in flight, which it had to wait for,
        was refused."""
        now, window = self.services.clock(), self.reader.window
        room_decides, expands = _capabilities(self.services, self._stored)
        decided = _Decided(
            rows, now, room_decides=room_decides, expands_instances=expands, rules=self._rules
        )
        readable = _read_all(rows, self.reader, now, decided.report)
        touched = {row.provider_id for row, _ in readable} | {o.uid for _, o in readable if o}
        overlaps = self._in_flight is not None and touched & self._in_flight[0].touched
        if overlaps and not self._land():
            return None
        decided.touched = frozenset(touched)
        with self.services.read() as uow:
            existing = _existing(uow, self._stored, readable, expands)
            decided.waiting = waiting_changes(uow, self._stored, existing)
        decided.decide(self._stored, readable, existing, occupancy, window)
        return decided

    def _write(self, decided: _Decided) -> None:
        with self.services.uow() as uow:
            decided.write(uow)
            uow.commit()
            self._created += decided.writes.created
            if not self._statistics_fresh and self._created >= STATISTICS_AFTER:
                # The table grew by orders of magnitude: let the query planner know before
                # the next batches look reservations up (else it keeps a plan for a few
                # rows and scans tens of thousands for every batch).
                uow.reservations.refresh_statistics()
                uow.commit()
                self._statistics_fresh = True

    def _land(self) -> bool:
        """Wait for the batch in flight to be written. False when the database refused it;
        it has then been redone one item at a time."""
        if self._in_flight is None:
            return True
        decided, writing = self._in_flight
        self._in_flight = None
        try:
            writing.result()
        except (DoubleBooking, ReservationChanged):
            self._occupancy = None
            ids = [row.id for row in decided.rows]
            _apply_one_by_one(
                self.services, self._stored, self.reader, decided.now, self.report, ids
            )
            return False
        self.report.add(decided.report)
        return True

    def __enter__(self) -> Applier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._writer.shutdown(wait=True)


@dataclass
class _Decided:
    """One batch decided and not yet written: its writes, its items' verdicts, its counts,
    and the UIDs and provider ids it touches."""

    rows: list[PendingItem]
    now: datetime
    writes: _Writes = field(default_factory=lambda: _Writes())
    report: ApplyReport = field(default_factory=lambda: ApplyReport())
    touched: frozenset[str] = frozenset()
    waiting: Waiting = field(default_factory=lambda: Waiting())
    authoritative: bool = False
    #: The item's service lets its room answer on its own (`Capabilities.room_decides`).
    room_decides: bool = False
    #: The item's service lists each instance of a series as an object of its own.
    expands_instances: bool = False
    rules: ApprovalRules = NO_APPROVALS
    item_id: int = 0
    #: Series declined whole, by UID, with why (`series_refusal`), where the service
    #: hands a series over instance by instance.
    series_refused: dict[str, str] = field(default_factory=dict)

    def decide(
        self,
        stored: StoredItem,
        readable: list[tuple[PendingItem, CalendarObject | None]],
        existing: dict[str, list[Reservation]],
        occupancy: Occupancy,
        window: Window,
    ) -> None:
        """Decide the readable items in booking order, gathering writes and verdicts."""
        self.item_id = stored.id
        if self.expands_instances:
            self.series_refused = _series_refused(stored, readable, existing, occupancy)
        for row, obj in _in_booking_order(readable):
            status = _apply_one(self, stored, row, obj, existing, occupancy, window)
            self.report.count(status)

    def write(self, uow: UnitOfWork) -> None:
        """The batch's reservations, answers and calendar item verdicts, in `uow`."""
        self.writes.flush(uow, self.item_id, self.now)
        uow.calendar_items.settle(self.rows)


def apply_now(
    services: Services, stored: StoredItem, ids: Sequence[int], authoritative: bool = False
) -> ApplyReport:
    """Apply these calendar items at once, one at a time, each decided under the item's
    writer lock (a change an outbound event found in the calendar, say). `authoritative`:
    they hold the calendar's current state, read just now (see `Change.authoritative`)."""
    report = ApplyReport()
    now = services.clock()
    with object_reader(services, stored, now) as reader:
        _apply_one_by_one(services, stored, reader, now, report, ids, authoritative)
    return report


def _apply_one_by_one(
    services: Services,
    stored: StoredItem,
    reader: ObjectReader,
    now: datetime,
    report: ApplyReport,
    ids: Sequence[int],
    authoritative: bool = False,
) -> None:
    window, capabilities = reader.window, _capabilities(services, stored)
    for calendar_item_id in ids:
        with services.uow() as uow:
            uow.reservations.lock_item(stored.id)  # decide on what is committed
            occupancy = Occupancy(uow.reservations.holding_spans(stored.id, window))
            row = uow.calendar_items.to_apply(calendar_item_id)
            decided = _Decided(
                [row],
                now,
                authoritative=authoritative,
                room_decides=capabilities[0],
                expands_instances=capabilities[1],
                rules=services.settings.approval_rules_in_order(),
            )
            readable = _read_all([row], reader, now, decided.report)
            existing = _existing(uow, stored, readable, capabilities[1])
            decided.waiting = waiting_changes(uow, stored, existing)
            decided.decide(stored, readable, existing, occupancy, window)
            try:
                decided.write(uow)
                uow.commit()
                report.add(decided.report)
                continue
            except DoubleBooking as exc:
                error = f"double booking refused by the database: {exc}"
        with services.uow() as uow:
            row = uow.calendar_items.to_apply(calendar_item_id)
            _fail(row, error, now)
            uow.calendar_items.settle([row])
            report.count(CalendarItemStatus.failed)
            uow.commit()


def _read_all(
    rows: Sequence[PendingItem], reader: ObjectReader, now: datetime, report: ApplyReport
) -> list[tuple[PendingItem, CalendarObject | None]]:
    """Each row with its calendar object (None for a cancellation); unreadable rows fail."""
    changed = [row for row in rows if row.kind != CalendarItemKind.cancellation.value]
    objects = dict(
        zip(
            (row.id for row in changed),
            reader.read([(r.provider_id, r.provider_version, r.provider_payload) for r in changed]),
            strict=True,
        )
    )
    readable: list[tuple[PendingItem, CalendarObject | None]] = []
    for row in rows:
        read = objects.get(row.id)
        if isinstance(read, InvalidCalendarData):
            _fail(row, f"{row.provider_id}: {read.reason}", now)
            report.count(CalendarItemStatus.failed)
        else:
            readable.append((row, read))
    return readable


def _in_booking_order(
    readable: list[tuple[PendingItem, CalendarObject | None]],
) -> list[tuple[PendingItem, CalendarObject | None]]:
    """Cancellations first (they free the room), then first booked, first served (DTSTAMP)."""

    def order(pair: tuple[PendingItem, CalendarObject | None]) -> tuple[int, datetime, int]:
        row, obj = pair
        if obj is None:
            return (0, datetime.min.replace(tzinfo=UTC), row.id)
        return (1, obj.master.dtstamp or datetime.max.replace(tzinfo=UTC), row.id)

    return sorted(readable, key=order)


def _series_refused(
    stored: StoredItem,
    readable: list[tuple[PendingItem, CalendarObject | None]],
    existing: dict[str, list[Reservation]],
    occupancy: Occupancy,
) -> dict[str, str]:
    """The series whose new instances in this batch break the series' own rule (too many
    of them in conflict), by UID, with why. Only instances not yet reserved count: a series
    met before was judged then; one split over two batches is judged by each part."""
    policy = stored.item.policy
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for _, obj in readable:
        if obj is None:
            continue
        known = {reservation_key(r) for r in existing.get(obj.uid, [])}
        for occurrence in obj.occurrences:
            if occurrence.recurrence_id is not None and occurrence.key not in known:
                spans.setdefault(obj.uid, []).append((occurrence.start, occurrence.end))
    refused = {}
    for uid, series in spans.items():
        outcome = series_refusal(series, policy, occupancy) if len(series) > 1 else None
        if outcome is not None:
            refused[uid] = str(outcome)
    return refused


def _an_instance(obj: CalendarObject) -> bool:
    """The object is one instance of a series (its occurrence carries a RECURRENCE-ID)."""
    return any(o.recurrence_id is not None for o in obj.occurrences)


def _existing(
    uow: UnitOfWork,
    stored: StoredItem,
    readable: list[tuple[PendingItem, CalendarObject | None]],
    expands_instances: bool,
) -> dict[str, list[Reservation]]:
    """Reservations by provider id for cancellations, by UID for everything else: all of
    the UID's, or where each object is one instance (`expands_instances`), those its
    object can touch (see `_apply_one`): a series listed instance by instance would
    otherwise load every sibling already stored for each of its instances."""
    found: dict[str, list[Reservation]]
    objects = [(row, obj) for row, obj in readable if obj is not None]
    if expands_instances:
        ids = [row.provider_id for row, _ in objects]
        keys = [o.key for _, obj in objects for o in obj.occurrences]
        # An instance's series was perhaps a single meeting before (Alice made it recur):
        # the reservation of what it was, if any, is the UID's without a RECURRENCE-ID.
        keys += [(obj.uid, None) for _, obj in objects if _an_instance(obj)]
        found = dict(uow.reservations.of_occurrences(stored.id, ids, keys))
    else:
        found = dict(uow.reservations.of_uids(stored.id, [obj.uid for _, obj in objects]))
    for row, obj in readable:
        if obj is None:
            found[row.provider_id] = uow.reservations.of_provider_id(stored.id, row.provider_id)
    return found


def _apply_one(
    decided: _Decided,
    stored: StoredItem,
    row: PendingItem,
    obj: CalendarObject | None,
    existing: dict[str, list[Reservation]],
    occupancy: Occupancy,
    window: Window,
) -> CalendarItemStatus:
    now, writes = decided.now, decided.writes
    of_key = existing.get(row.provider_id if obj is None else obj.uid, [])
    current = of_key
    if obj is not None and decided.expands_instances:
        # Each instance of a series is an object of its own (Google's singleEvents): it
        # speaks for its own occurrences only, never for its siblings sharing the UID.
        keys = {o.key for o in obj.occurrences}
        if _an_instance(obj):
            keys.add((obj.uid, None))  # the single meeting it was, which it replaces
        current = [
            r for r in of_key if r.provider_id == row.provider_id or reservation_key(r) in keys
        ]
    as_read = {r.id: r for r in current}  # from the database, or from earlier in the batch
    kept = ""
    if obj is None:
        plan = decide_removal(current, occupancy)
    else:
        change = Change(
            obj,
            row.provider_id,
            row.provider_version,
            window,
            decided.authoritative,
            decided.room_decides,
            decided.series_refused.get(obj.uid, ""),
        )
        plan = decide(change, current, stored.item, occupancy, now, writes.new_id, decided.rules)
        held = keeping(plan, decided.waiting.keep, as_read)
        plan, kept = held.plan, held.note
        for dropped in held.dropped:
            # The span the dropped update took goes back to what calsync keeps.
            occupancy.release(dropped.id)
            original = as_read[dropped.id]
            if original.holds_item:
                occupancy.hold(original.start, original.end, original.id)
        existing[obj.uid] = _after({r.id: r for r in of_key}, plan)
    for action in plan.actions:
        writes.add(action.reservation, as_read.get(action.reservation.id))
        reservation_id = action.reservation.id
        if reservation_id in decided.waiting.keep and isinstance(action, Cancel):
            writes.superseded[reservation_id] = (
                f"its organizer removed it from the calendar (calendar item {row.id}) "
                "before calsync's change was sent: there is nothing left to edit"
            )
        elif reservation_id in decided.waiting.supersede and _differs_beyond_version(
            action.reservation, as_read.get(reservation_id, action.reservation)
        ):
            writes.superseded[reservation_id] = (
                f"the calendar changed it before calsync's change was sent (calendar item "
                f"{row.id}); conflict_resolution = calendar: the calendar's change wins"
            )
    planned = {a.reservation.id: a.reservation for a in plan.actions}
    writes.approvals.extend((a, planned[a.reservation].reason) for a in plan.approvals)
    if plan.room_partstat is not None:
        writes.answers.append(_answer(stored, row, plan, now))
    status, outcome = _verdict(plan, as_read)
    row.status, row.outcome, row.applied_at = status.value, outcome + kept, now
    return status


def _after(before: dict[str, Reservation], plan: Plan) -> list[Reservation]:
    by_id = dict(before)
    for action in plan.actions:
        by_id[action.reservation.id] = action.reservation
    return list(by_id.values())


def _verdict(plan: Plan, before: dict[str, Reservation]) -> tuple[CalendarItemStatus, str]:
    """The calendar item's status and outcome; `before`: the reservations it found, by id."""
    created = [a for a in plan.actions if isinstance(a, Create)]
    updated = [a for a in plan.actions if isinstance(a, Update)]
    cancelled = [a for a in plan.actions if isinstance(a, Cancel)]
    outcome = f"created {len(created)}, updated {len(updated)}, cancelled {len(cancelled)}"
    declined = [a for a in created + updated if a.reservation.status == ReservationStatus.declined]
    if declined:
        outcome += f", declined {len(declined)} ({declined[0].reservation.reason})"
    if plan.approvals:
        waiting = {a.reservation.id: a.reservation for a in plan.actions}
        first = waiting[plan.approvals[0].reservation]
        outcome += f", waiting for approval {len(plan.approvals)} ({first.reason})"
    if plan.changes_nothing or _only_versions_changed(plan, before):
        return CalendarItemStatus.skipped, "no effective change"
    if declined and len(declined) == len(created) + len(updated) and not cancelled:
        return CalendarItemStatus.rejected, outcome
    return CalendarItemStatus.applied, outcome


def _only_versions_changed(plan: Plan, before: dict[str, Reservation]) -> bool:
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


def _answer(stored: StoredItem, row: PendingItem, plan: Plan, now: datetime) -> dict[str, Any]:
    """The room's answer to the organizer: a respond event for the outbox."""
    binding = stored.item.binding
    assert binding is not None
    payload = respond_payload(
        stored.item.name,
        row.provider_id,
        binding.room_address,
        plan.room_partstat or "",
        plan.room_declines,
        # The version this answer was decided on, as the calendar item holds it: the
        # answer is written into that version only, without reading it again.
        version=row.provider_version,
        calendar_item_id=row.id,
    )
    return new_event(
        stored.id,
        Action.respond,
        now,
        payload,
        reservation_id=plan.actions[0].reservation.id if plan.actions else None,
        synchronization_id=row.synchronization_id,
    )


def _fail(row: PendingItem, error: str, now: datetime) -> None:
    row.status, row.error, row.applied_at = CalendarItemStatus.failed.value, error, now
