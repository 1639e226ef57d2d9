"""Reservations made in calsync: `create`, `update`, `cancel`, and `export_item`.

Each change and its outbound event are written in one transaction (the transactional
outbox): no change is lost between the database and the calendar. The booking policy
refuses what the item does not accept (`PolicyViolation`); the database refuses a double
booking even if two writers race.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from calsync.bootstrap import Services
from calsync.domain.entries import Window
from calsync.domain.events import Action
from calsync.domain.occupancy import Occupancy
from calsync.domain.policy import check
from calsync.domain.reservations import Origin, Reservation, ReservationStatus
from calsync.errors import CalsyncError, ReservationChanged
from calsync.store.items import StoredItem
from calsync.store.reservations import ReservationFilter
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.ids import reservation_id


class PolicyViolation(CalsyncError):
    """The item's booking policy refuses the reservation; `rule` names the rule."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule


def create(
    services: Services,
    item: str,
    start: datetime,
    end: datetime,
    subject: str = "",
    organizer: str = "",
) -> Reservation:
    with services.uow() as uow:
        now = services.clock()
        stored = uow.items.get(item)
        reservation = Reservation(
            id=reservation_id(),
            item=item,
            start=start,
            end=end,
            status=ReservationStatus.confirmed,
            origin=Origin.workplace,
            uid=f"{uuid.uuid4()}@calsync",
            subject=subject,
            organizer=organizer.lower(),
        )
        _admit(uow, stored, reservation, now)
        uow.reservations.add(reservation, now)
        outbox(uow, stored, Action.create, reservation, now)
        uow.commit()
    return reservation


def update(
    services: Services,
    reservation_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    subject: str | None = None,
) -> Reservation:
    with services.uow() as uow:
        now = services.clock()
        current = uow.reservations.get_for_write(reservation_id)
        if current.status == ReservationStatus.cancelled:  # decided under the row's lock
            raise ReservationChanged(
                f"reservation {reservation_id} is cancelled: make a new one instead"
            )
        stored = uow.items.get(current.item)
        changed = replace(
            current,
            start=start or current.start,
            end=end or current.end,
            subject=current.subject if subject is None else subject,
            sequence=current.sequence + 1,
        )
        _admit(uow, stored, changed, now)
        uow.reservations.save(changed, now)
        outbox(uow, stored, Action.update, changed, now)
        uow.commit()
    return changed


def cancel(
    services: Services, reservation_id: str, reason: str = "cancelled in calsync"
) -> Reservation:
    with services.uow() as uow:
        now = services.clock()
        current = uow.reservations.get_for_write(reservation_id)
        if current.status == ReservationStatus.cancelled:
            return current
        stored = uow.items.get(current.item)
        cancelled = current.cancel(reason)
        uow.reservations.save(cancelled, now)
        withdraw_approval(uow, current, reason, now)
        outbox(uow, stored, Action.delete, cancelled, now)
        uow.commit()
    return cancelled


def withdraw_approval(uow: UnitOfWork, before: Reservation, why: str, now: datetime) -> None:
    """A booking that waited for approval and no longer does: its request is withdrawn."""
    if before.status == ReservationStatus.pending_approval:
        uow.approvals.withdraw_unless_waiting([before.id], why, now)


def export_item(services: Services, item: str) -> int:
    """Queue a create for every future live reservation not yet in the calendar."""
    with services.uow() as uow:
        now = services.clock()
        stored = uow.items.get(item)
        future = uow.reservations.find(
            ReservationFilter(item_id=stored.id, start=now, limit=1_000_000)
        )
        unsent = [r for r in future if r.holds_item and r.provider_id is None]
        for reservation in unsent:
            outbox(uow, stored, Action.create, reservation, now)
        uow.commit()
    return len(unsent)


def _admit(uow: UnitOfWork, stored: StoredItem, reservation: Reservation, now: datetime) -> None:
    uow.reservations.lock_item(stored.id)  # a racing booking of the item waits for ours
    spans = uow.reservations.holding_spans(stored.id, Window(reservation.start, reservation.end))
    refusal = check(
        reservation.start,
        reservation.end,
        stored.item.policy,
        Occupancy(spans),
        now,
        reservation.id,
    )
    if refusal is not None:
        raise PolicyViolation(refusal.rule, refusal.reason)


def outbox(
    uow: UnitOfWork, stored: StoredItem, action: Action, reservation: Reservation, now: datetime
) -> None:
    """Queue the outbound event of a reservation change, in the change's transaction; none
    for an item whose calendar binding is missing or inactive."""
    binding = stored.item.binding
    if binding is None or not binding.active:
        return
    uow.events.queue(stored.id, action, now, reservation_payload(reservation), reservation.id)


def reservation_payload(reservation: Reservation) -> dict[str, object]:
    """The reservation in calsync's own form: an event's payload."""
    return {
        "id": reservation.id,
        "item": reservation.item,
        "start": reservation.start.isoformat(),
        "end": reservation.end.isoformat(),
        "all_day": reservation.all_day,
        "status": reservation.status.value,
        "origin": reservation.origin.value,
        "uid": reservation.uid,
        "recurrence_id": reservation.recurrence_id.isoformat()
        if reservation.recurrence_id
        else None,
        "subject": reservation.subject,
        "organizer": reservation.organizer,
        "sequence": reservation.sequence,
    }
