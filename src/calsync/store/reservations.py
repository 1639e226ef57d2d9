"""Reservations in the store, as domain values. Writes go in bulk: a full
synchronization of a large calendar creates tens of thousands of occurrences."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from calsync.domain.entries import OccurrenceKey, Window
from calsync.domain.occupancy import Span
from calsync.domain.reservations import Origin, ProviderApproval, Reservation, ReservationStatus
from calsync.errors import DoubleBooking, NotFound, ReservationChanged
from calsync.store.bulk import insert_values
from calsync.store.tables import ReservationRow

#: Core inserts skip the ORM's per-row bookkeeping: a full synchronization writes many.
RESERVATIONS: Table = ReservationRow.__table__  # type: ignore[assignment]


#: First key of the advisory locks that `lock_item` takes (the second is the item's id).
ITEM_WRITERS_LOCK = 0x63616C73  # "cals"


@dataclass(frozen=True)
class ReservationFilter:
    item_id: int | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 500
    #: Only reservations after this (start, id): the next page of a list by start.
    after: tuple[datetime, str] | None = None


#: The condition of the partial index `ix_reservations_holding` (migration 0001), written
#: out: SQLite picks a partial index only for a query that repeats its condition, which a
#: list of bound parameters does not (ten times slower on a room with 60,000 reservations).
HOLDING_CONDITION = text(
    "reservations.status IN ('pending_approval', 'awaiting_confirmation', 'confirmed')"
)


def holding(item_id: int, window: Window) -> Select[datetime, datetime, str]:
    """The query of the spans the item's holding reservations take within `window`."""
    return select(ReservationRow.start_at, ReservationRow.end_at, ReservationRow.id).where(
        ReservationRow.item_id == item_id,
        HOLDING_CONDITION,
        ReservationRow.end_at > window.start,
        ReservationRow.start_at < window.end,
    )


def check_in_overdue(
    item_ids: Collection[int], started_by: datetime, now: datetime
) -> Select[str, int]:
    """The query of (id, item id) of the items' holding reservations never checked in
    that started by `started_by` and end after `now`. It repeats the condition of the
    partial index `ix_reservations_check_in_due` (migration 0006), by item and end: the
    items' running and future reservations are read, not their past (unordered: an
    order by end makes SQLite, planning without statistics, take the index of holding
    reservations by start instead, and read the past)."""
    return select(ReservationRow.id, ReservationRow.item_id).where(
        ReservationRow.item_id.in_(sorted(item_ids)),
        HOLDING_CONDITION,
        ReservationRow.checked_in_at.is_(None),
        ReservationRow.end_at > now,
        ReservationRow.start_at <= started_by,
    )


#: The columns of `ReservationRepository._values`, in its order.
_INSERTED = (
    "id",
    "item_id",
    "start_at",
    "end_at",
    "status",
    "origin",
    "uid",
    "recurrence_key",
    "recurrence_id",
    "subject",
    "organizer",
    "all_day",
    "sequence",
    "provider_id",
    "provider_version",
    "reason",
    "provider_approval",
    "updated_at",
    "created_at",
)


class ReservationRepository:
    def __init__(
        self,
        session: Session,
        item_names: Callable[[], dict[int, str]],
        name_of: Callable[[int], str],
        id_of: Callable[[str], int],
    ) -> None:
        self.session = session
        self._item_names, self._name_of, self._id_of = item_names, name_of, id_of
        self._names_read: dict[int, str] = {}
        #: The items whose writer lock a transaction or savepoint (the first) took.
        self._locked: tuple[object, set[int]] = (None, set())

    @functools.cached_property
    def item_names(self) -> dict[int, str]:
        """Item names by id, asked for once per unit of work, when first needed."""
        return self._item_names()

    def _item_name(self, item_id: int) -> str:
        """One item's name: from every item's names if they were asked for, else read
        alone (a run of one event does not read the names of 500 rooms)."""
        if "item_names" in self.__dict__:
            return self.item_names[item_id]
        if item_id not in self._names_read:
            self._names_read[item_id] = self._name_of(item_id)
        return self._names_read[item_id]

    @functools.cached_property
    def item_ids(self) -> dict[str, int]:
        return {name: item_id for item_id, name in self.item_names.items()}

    def _item_id(self, name: str) -> int:
        """One item's id, as `_item_name` finds a name: a booking made over the API reads
        its item's row, not the names of every item (200 rows read for each booking, under
        a lock every thread of the process shares: `functools.cached_property`'s)."""
        if "item_names" in self.__dict__:
            return self.item_ids[name]
        return self._id_of(name)  # the item repository keeps what it read

    def get(self, reservation_id: str) -> Reservation:
        row = self.session.get(ReservationRow, reservation_id)
        if row is None:
            raise NotFound(f"no reservation {reservation_id!r}")
        return self._to_domain(row)

    def get_for_write(self, reservation_id: str) -> Reservation:
        """The reservation as committed once this transaction holds its item's writer lock:
        a change written from it overwrites no write that raced it (a push recording where
        the provider keeps it, say)."""
        item_id = self.session.scalar(
            select(ReservationRow.item_id).where(ReservationRow.id == reservation_id)
        )
        if item_id is None:
            raise NotFound(f"no reservation {reservation_id!r}")
        self.lock_item(item_id)
        row = self.session.get(ReservationRow, reservation_id, populate_existing=True)
        assert row is not None  # reservations are cancelled, never deleted
        return self._to_domain(row)

    def of_uids(self, item_id: int, uids: Iterable[str]) -> dict[str, list[Reservation]]:
        found: dict[str, list[Reservation]] = defaultdict(list)
        uid_list = list(set(uids))
        for start in range(0, len(uid_list), 500):
            query = select(ReservationRow).where(
                ReservationRow.item_id == item_id,
                ReservationRow.uid.in_(uid_list[start : start + 500]),
            )
            for row in self.session.scalars(query):
                found[row.uid].append(self._to_domain(row))
        return found

    def of_occurrences(
        self, item_id: int, provider_ids: Iterable[str], keys: Iterable[OccurrenceKey]
    ) -> dict[str, list[Reservation]]:
        """By UID, the reservations that mirror one of `provider_ids` or hold one of the
        occurrences `keys`: all that objects speaking for their own occurrences alone
        (Google's instances) can touch, without the siblings that share their UID."""
        found: dict[str, ReservationRow] = {}
        for chunk in _chunks(set(provider_ids)):
            query = select(ReservationRow).where(
                ReservationRow.item_id == item_id, ReservationRow.provider_id.in_(chunk or [])
            )
            found.update((row.id, row) for row in self.session.scalars(query))
        pairs = {(uid, recurrence_key(recurrence_id)) for uid, recurrence_id in keys}
        # UIDs and keys apart, not as pairs: SQLite searches the unique index for those,
        # and scans the item's reservations for a list of pairs. What also matches a
        # key of another UID is left out here.
        for chunk in _chunks({uid for uid, _ in pairs}):
            query = select(ReservationRow).where(
                ReservationRow.item_id == item_id,
                ReservationRow.uid.in_(chunk or []),
                ReservationRow.recurrence_key.in_({key for _, key in pairs}),
            )
            found.update(
                (row.id, row)
                for row in self.session.scalars(query)
                if (row.uid, row.recurrence_key) in pairs
            )
        by_uid: dict[str, list[Reservation]] = defaultdict(list)
        for row in found.values():
            by_uid[row.uid].append(self._to_domain(row))
        return by_uid

    def of_provider_id(self, item_id: int, provider_id: str) -> list[Reservation]:
        query = select(ReservationRow).where(
            ReservationRow.item_id == item_id, ReservationRow.provider_id == provider_id
        )
        return [self._to_domain(row) for row in self.session.scalars(query)]

    def known_versions(
        self,
        item_id: int,
        provider_ids: Collection[str] | None = None,
        ending_after: datetime | None = None,
    ) -> dict[str, set[str | None]]:
        """provider id → versions of the live reservations mirroring it.

        All of the item's, or only those of `provider_ids` (an incremental read needs
        no more than the objects it saw), or only those of reservations ending after
        `ending_after` (what a full listing from then covers).
        """
        query = select(ReservationRow.provider_id, ReservationRow.provider_version).where(
            ReservationRow.item_id == item_id,
            ReservationRow.provider_id.is_not(None),
            ReservationRow.status != ReservationStatus.cancelled.value,
        )
        if ending_after is not None:
            query = query.where(ReservationRow.end_at > ending_after)
        known: dict[str, set[str | None]] = defaultdict(set)
        for chunk in _chunks(provider_ids):
            selected = (
                query if chunk is None else query.where(ReservationRow.provider_id.in_(chunk))
            )
            for provider_id, version in self.session.execute(selected):
                assert provider_id is not None
                known[provider_id].add(version)
        return known

    def mirrored(self, wanted: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
        """Those of (item id, provider id) that a live reservation mirrors, in one query
        per 500 provider ids."""
        found: set[tuple[int, str]] = set()
        for chunk in _chunks({provider_id for _, provider_id in wanted}):
            assert chunk is not None
            query = select(ReservationRow.item_id, ReservationRow.provider_id).where(
                ReservationRow.provider_id.in_(chunk),
                ReservationRow.status != ReservationStatus.cancelled.value,
            )
            for item_id, provider_id in self.session.execute(query):
                assert provider_id is not None
                found.add((item_id, provider_id))
        return found & set(wanted)

    def set_versions_written(self, written: Sequence[tuple[int, str, str | None, str]]) -> None:
        """`set_version_of` for many writes, each (item id, provider id, new version, the
        version it was based on), in one statement run for each: the items' writer locks
        taken once, in order."""
        if not written:
            return
        for item_id in sorted({item_id for item_id, _, _, _ in written}):
            self.lock_item(item_id)
        query = (
            update(ReservationRow)
            .where(
                ReservationRow.item_id == bindparam("w_item"),
                ReservationRow.provider_id == bindparam("w_provider_id"),
                ReservationRow.provider_version == bindparam("w_based_on"),
            )
            .values(provider_version=bindparam("w_version"))
        )
        self.session.connection().execute(
            query,
            [
                {"w_item": i, "w_provider_id": p, "w_version": v, "w_based_on": b}
                for i, p, v, b in written
            ],
        )

    def holding_spans(self, item_id: int, window: Window) -> list[Span]:
        return [(row[0], row[1], row[2]) for row in self.session.execute(holding(item_id, window))]

    def lock_item(self, item_id: int) -> None:
        """Writers of one item's reservations take turns until this transaction ends.
        Every write of this repository takes it.

        PostgreSQL: a transaction-level advisory lock. Without it, two transactions that
        insert overlapping reservations can each wait for the other while checking the
        exclusion constraint, and one of them dies of a deadlock instead of being refused
        as a double booking. What a transaction reads after taking it is what the item's
        other writers committed (`get_for_write`; a booking's occupancy). SQLite: every
        writer already goes one at a time (`BEGIN IMMEDIATE`). Taking it again in the same
        transaction costs nothing: the repository remembers what this transaction holds.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        self.session.connection()  # the transaction has begun: it is the lock's lifetime
        # The innermost transaction: a lock taken after a savepoint goes when the savepoint
        # is rolled back to, so what one savepoint took is not counted as held beyond it.
        transaction = self.session.get_nested_transaction() or self.session.get_transaction()
        if self._locked[0] is not transaction:
            self._locked = (transaction, set())
        if item_id in self._locked[1]:
            return  # held until this transaction ends: no second round trip
        self.session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :item_id)"),
            {"space": ITEM_WRITERS_LOCK, "item_id": item_id},
        )
        self._locked[1].add(item_id)

    def add_many(self, reservations: Sequence[Reservation], now: datetime) -> None:
        if reservations:
            self._lock_items_of(reservations)
            values = [self._values(r, now) for r in reservations]
            try:
                insert_values(self.session, RESERVATIONS, _INSERTED, values)
            except IntegrityError as exc:
                raise _double_booking(exc) from exc

    def update_many(
        self,
        reservations: Sequence[Reservation],
        now: datetime,
        as_read: Sequence[Reservation] | None = None,
    ) -> None:
        """Write changed reservations. With `as_read` (each one as its writer read it,
        outside this transaction), a reservation another writer changed since then is not
        overwritten: `ReservationChanged` is raised instead, for the writer to decide again
        under the lock (optimistic concurrency)."""
        if not reservations:
            return
        self._lock_items_of(reservations)
        rows = [self._to_row(r, now) for r in reservations]
        if as_read is None:
            self._guarded(update(ReservationRow), rows)
            return
        for row, seen in zip(rows, as_read, strict=True):
            row["seen_id"] = row.pop("id")
            row.update(_seen(seen))
        try:
            written = self.session.connection().execute(_UPDATE_AS_READ, rows).rowcount
        except IntegrityError as exc:
            raise _double_booking(exc) from exc
        if written != len(rows):
            raise ReservationChanged(
                f"{len(rows) - written} of {len(rows)} reservations changed since they were read"
            )

    def add(self, reservation: Reservation, now: datetime) -> None:
        self.add_many([reservation], now)

    def save(self, reservation: Reservation, now: datetime) -> None:
        self.update_many([reservation], now)

    def set_provider_ref(self, item_id: int, reservation: Reservation) -> None:
        """Where the provider keeps this reservation of `item_id` now (its provider id and
        version); nothing else changes."""
        self.lock_item(item_id)
        self.session.execute(
            update(ReservationRow)
            .where(ReservationRow.id == reservation.id)
            .values(
                provider_id=reservation.provider_id, provider_version=reservation.provider_version
            )
        )

    def awaiting_since(self, before: datetime) -> list[tuple[str, int, datetime]]:
        """(id, item id, since) of bookings awaiting the room's answer since before `before`."""
        rows = self.session.execute(
            select(ReservationRow.id, ReservationRow.item_id, ReservationRow.updated_at).where(
                ReservationRow.status == ReservationStatus.awaiting_confirmation.value,
                ReservationRow.updated_at < before,
            )
        )
        return [(row.id, row.item_id, row.updated_at) for row in rows]

    def settle_room_answer(
        self,
        item_id: int,
        reservation_id: str,
        status: ReservationStatus,
        reason: str,
        now: datetime,
    ) -> None:
        """The room's own answer to calsync's booking, while the booking still holds the
        item (a cancellation made meanwhile stays)."""
        self.lock_item(item_id)
        held = [
            s.value for s in (ReservationStatus.confirmed, ReservationStatus.awaiting_confirmation)
        ]
        self.session.execute(
            update(ReservationRow)
            .where(ReservationRow.id == reservation_id, ReservationRow.status.in_(held))
            .values(status=status.value, reason=reason, updated_at=now)
        )

    def set_version_of(
        self,
        item_id: int,
        provider_id: str,
        version: str | None,
        based_on: Collection[str | None] | None = None,
    ) -> None:
        """The provider's new version of an object, on every reservation mirroring it.

        With `based_on` (the versions the write was based on), only on the reservations
        still at one of them: one that a read moved on to a newer version meanwhile keeps
        it, so that the organizer's change is not taken for an echo of ours."""
        self.lock_item(item_id)
        query = update(ReservationRow).where(
            ReservationRow.item_id == item_id, ReservationRow.provider_id == provider_id
        )
        if based_on is not None:
            versions = [v for v in based_on if v is not None]
            held: ColumnElement[bool] = ReservationRow.provider_version.in_(versions)
            if None in based_on:
                held = or_(held, ReservationRow.provider_version.is_(None))
            query = query.where(held)
        self.session.execute(query.values(provider_version=version))

    def no_show_candidates(
        self, item_ids: Collection[int], started_by: datetime, now: datetime
    ) -> list[tuple[str, int]]:
        """(id, item id) of the items' reservations that hold them, were never checked in,
        started by `started_by` (their grace period before `now`) and still run at `now`:
        their no-shows, if they require check-in. One query per 500 items."""
        ordered = sorted(item_ids)
        return [
            (reservation_id, item_id)
            for start in range(0, len(ordered), 500)
            for reservation_id, item_id in self.session.execute(
                check_in_overdue(ordered[start : start + 500], started_by, now)
            )
        ]

    def record_check_in(self, item_id: int, reservation: Reservation, as_read: Reservation) -> None:
        """Write the check-in facts (checked in, checked out, released as a no-show) of a
        reservation of `item_id` if they are still as `as_read` had them; else
        `ReservationChanged`: of a check-in and a no-show release that race, one wins and
        the other is refused."""
        facts = ("checked_in_at", "checked_out_at", "no_show_released_at")
        self.lock_item(item_id)
        written = (
            self.session.connection()
            .execute(
                update(ReservationRow)
                .where(
                    ReservationRow.id == reservation.id,
                    *(
                        getattr(ReservationRow, f).is_not_distinct_from(getattr(as_read, f))
                        for f in facts
                    ),
                )
                .values({f: getattr(reservation, f) for f in facts})
            )
            .rowcount
        )
        if written != 1:
            raise ReservationChanged(
                f"reservation {reservation.id} was checked in or released meanwhile"
            )

    def refresh_statistics(self) -> None:
        """PostgreSQL's planner statistics for reservations, after a bulk load (SQLite: none)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("ANALYZE reservations"))

    def find(self, where: ReservationFilter) -> list[Reservation]:
        return [self._to_domain(row) for row in self.session.scalars(_filtered(where))]

    def _lock_items_of(self, reservations: Sequence[Reservation]) -> None:
        for item_id in sorted({self._item_id(r.item) for r in reservations}):
            self.lock_item(item_id)

    def _guarded(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        try:
            self.session.execute(statement, rows)
        except IntegrityError as exc:
            raise _double_booking(exc) from exc

    def _values(self, r: Reservation, now: datetime) -> list[Any]:
        """A new reservation's row as values in `_INSERTED` order (bulk inserts)."""
        recurrence_id = r.recurrence_id
        return [
            r.id,
            self._item_id(r.item),
            r.start,
            r.end,
            r.status.value,
            r.origin.value,
            r.uid,
            recurrence_key(recurrence_id),
            recurrence_id,
            r.subject,
            r.organizer,
            r.all_day,
            r.sequence,
            r.provider_id,
            r.provider_version,
            r.reason,
            r.provider_approval.value if r.provider_approval else None,
            now,
            now,
        ]

    def _to_row(self, r: Reservation, now: datetime) -> dict[str, Any]:
        """A changed reservation's row (everything but `created_at`)."""
        return dict(zip(_INSERTED[:-1], self._values(r, now), strict=False))

    def _to_domain(self, row: ReservationRow) -> Reservation:
        return Reservation(
            id=row.id,
            item=self._item_name(row.item_id),
            start=row.start_at,
            end=row.end_at,
            status=ReservationStatus(row.status),
            origin=Origin(row.origin),
            uid=row.uid,
            subject=row.subject,
            organizer=row.organizer,
            all_day=row.all_day,
            recurrence_id=row.recurrence_id,
            sequence=row.sequence,
            provider_id=row.provider_id,
            provider_version=row.provider_version,
            reason=row.reason,
            provider_approval=ProviderApproval(row.provider_approval)
            if row.provider_approval
            else None,
            checked_in_at=row.checked_in_at,
            checked_out_at=row.checked_out_at,
            no_show_released_at=row.no_show_released_at,
        )


#: What another writer changes in a reservation (a booking moved or cancelled in calsync,
#: a push recording where the provider keeps it): a guarded write compares these.
_SEEN = ("status", "sequence", "start_at", "end_at", "provider_id", "provider_version")


def _seen(r: Reservation) -> dict[str, Any]:
    values = (r.status.value, r.sequence, r.start, r.end, r.provider_id, r.provider_version)
    return {f"seen_{name}": value for name, value in zip(_SEEN, values, strict=True)}


#: A changed reservation's row, written only if it is still as its writer read it.
_UPDATE_AS_READ = (
    update(RESERVATIONS)
    .where(
        RESERVATIONS.c.id == bindparam("seen_id"),
        *(RESERVATIONS.c[name].is_not_distinct_from(bindparam(f"seen_{name}")) for name in _SEEN),
    )
    .values({name: bindparam(name) for name in _INSERTED[1:-1]})
)


def _double_booking(exc: Exception) -> Exception:
    """The database's refusal as DoubleBooking, or the error itself if it was another."""
    if "no_double_booking" in str(getattr(exc, "orig", None) or exc):
        return DoubleBooking("the item is already reserved at that time")
    return exc


def recurrence_key(recurrence_id: datetime | None) -> str:
    """The column that makes (item, UID, recurrence id) unique where the id may be None."""
    return recurrence_id.isoformat() if recurrence_id else ""


def _chunks(values: Collection[str] | None, size: int = 500) -> list[list[str] | None]:
    if values is None:
        return [None]
    ordered = sorted(values)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def _filtered(where: ReservationFilter) -> Select[Any]:
    query = select(ReservationRow).order_by(ReservationRow.start_at, ReservationRow.id)
    if where.item_id is not None:
        query = query.where(ReservationRow.item_id == where.item_id)
    if where.status is not None:
        query = query.where(ReservationRow.status == where.status)
    if where.start is not None:
        query = query.where(ReservationRow.end_at > where.start)
    if where.end is not None:
        query = query.where(ReservationRow.start_at < where.end)
    if where.after is not None:
        query = query.where(tuple_(ReservationRow.start_at, ReservationRow.id) > where.after)
    return query.limit(where.limit)
