"""What one calendar item does to the reservations of one workplace item: a pure plan.

`decide(change, existing, item, occupancy, now, new_id)` compares the occurrences a
calendar object holds now with the reservations that mirror it and returns a `Plan` of
small actions (`Create`, `Update`, `Cancel`) plus the room's answer to the organizer.
`decide_removal(existing)` does the same for an object the calendar no longer has.
Nothing is written here; the service layer carries the plan out (decide first, then act,
as vdirsyncer's sync does).

Idempotence: applying the same object twice plans nothing the second time, and an
occurrence older (lower SEQUENCE) than the reservation is ignored (RFC 5546 §2.1.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from calsync.domain.entries import CalendarObject, Occurrence, OccurrenceKey, Window
from calsync.domain.items import WorkplaceItem
from calsync.domain.occupancy import Occupancy
from calsync.domain.policy import check
from calsync.domain.reservations import Origin, Reservation, ReservationStatus


@dataclass(frozen=True)
class Create:
    reservation: Reservation


@dataclass(frozen=True)
class Update:
    reservation: Reservation


@dataclass(frozen=True)
class Cancel:
    reservation: Reservation


Action = Create | Update | Cancel


@dataclass(frozen=True)
class Plan:
    """The actions for one calendar item and, when the room must answer, its PARTSTAT."""

    actions: tuple[Action, ...]
    room_partstat: str | None = None

    @property
    def changes_nothing(self) -> bool:
        return not self.actions and self.room_partstat is None


@dataclass(frozen=True)
class Change:
    """The calendar object as read now, with where it lives and its version."""

    obj: CalendarObject
    provider_id: str
    version: str | None
    window: Window
    #: Read from the calendar just now because calsync's own change met it: the
    #: calendar's current state, newer than what calsync holds whatever its SEQUENCE
    #: (calsync raises SEQUENCE on changes it had not sent yet).
    authoritative: bool = False
    #: The service's room answers on its own (Google auto-accept, an Exchange resource
    #: mailbox): its answer, once shown, is the room's word (see `_room_word`).
    room_decides: bool = False


def decide(
    change: Change,
    existing: Sequence[Reservation],
    item: WorkplaceItem,
    occupancy: Occupancy,
    now: datetime,
    new_id: Callable[[], str],
) -> Plan:
    by_key = {reservation_key(r): r for r in existing}
    actions: list[Action] = []
    for occurrence in change.obj.occurrences:
        current = by_key.pop(occurrence.key, None)
        action = _plan_occurrence(occurrence, current, change, item, occupancy, now, new_id)
        if action is not None:
            actions.append(action)
    for gone in by_key.values():
        # An occurrence the object no longer yields inside the window was deleted or moved.
        if gone.status != ReservationStatus.cancelled and _within(gone, change.window):
            occupancy.release(gone.id)
            actions.append(Cancel(gone.cancel("removed from the calendar")))
    return Plan(tuple(actions), _room_answer(change, existing, actions, item))


def decide_removal(existing: Sequence[Reservation], occupancy: Occupancy) -> Plan:
    """The calendar deleted the object: every live reservation mirroring it is cancelled."""
    actions: list[Action] = []
    for reservation in existing:
        if reservation.status != ReservationStatus.cancelled:
            occupancy.release(reservation.id)
            actions.append(Cancel(reservation.cancel("deleted in the calendar")))
    return Plan(tuple(actions))


def reservation_key(reservation: Reservation) -> OccurrenceKey:
    return (reservation.uid, reservation.recurrence_id)


def _plan_occurrence(
    occurrence: Occurrence,
    current: Reservation | None,
    change: Change,
    item: WorkplaceItem,
    occupancy: Occupancy,
    now: datetime,
    new_id: Callable[[], str],
) -> Action | None:
    if current is None:
        # A new meeting (or a new instance of a series): the policy decides.
        reservation_id = new_id()
        status, reason = _judge(
            occurrence.start, occurrence.end, reservation_id, item, occupancy, now
        )
        status, reason = _room_word(
            change, item, Origin.calendar, status, reason, occupancy, reservation_id
        )
        return Create(_mirror(occurrence, change, reservation_id, item.name, status, reason))
    if occurrence.sequence < current.sequence and not change.authoritative:
        # A replay older than what we hold: the newer revision wins.
        return None
    updated = _mirror(
        occurrence, change, current.id, item.name, current.status, current.reason, current.origin
    )
    if updated == current:
        # The same revision again (a replay, or an echo of our own write): nothing to do.
        return None
    if change.room_decides and current.origin == Origin.workplace:
        # calsync's booking at a service whose room decides: the room's answer settles it.
        occupancy.release(current.id)
        status, reason = _judge(updated.start, updated.end, updated.id, item, occupancy, now)
        status, reason = _room_word(
            change, item, current.origin, status, reason, occupancy, current.id
        )
        decided = replace(updated, status=status, reason=reason)
        return None if decided == current else Update(decided)
    if _same_span(updated, current) and current.status != ReservationStatus.cancelled:
        # Only the subject, organizer, sequence or version changed: the decision stands.
        return Update(updated)
    # Moved, resized or revived: release the old span and let the policy decide again.
    occupancy.release(current.id)
    status, reason = _judge(updated.start, updated.end, updated.id, item, occupancy, now)
    status, reason = _room_word(change, item, current.origin, status, reason, occupancy, current.id)
    return Update(replace(updated, status=status, reason=reason))


#: Why a reservation is conflicted or declined when the room itself said no.
ROOM_DECLINED = "the room declined it in the calendar"
#: Why calsync's booking holds the room without being confirmed yet.
ROOM_WAITING = "waiting for the room's answer"


def room_verdict(answer: str | None) -> tuple[ReservationStatus, str]:
    """calsync's booking by the room's own answer (a PARTSTAT name, None for none yet):
    confirmed once it accepted, conflicted when it declined, awaiting until then."""
    if answer in ("ACCEPTED", "TENTATIVE"):
        return ReservationStatus.confirmed, ""
    if answer == "DECLINED":
        return ReservationStatus.conflicted, ROOM_DECLINED
    return ReservationStatus.awaiting_confirmation, ROOM_WAITING


def _room_word(
    change: Change,
    item: WorkplaceItem,
    origin: Origin,
    status: ReservationStatus,
    reason: str,
    occupancy: Occupancy,
    reservation_id: str,
) -> tuple[ReservationStatus, str]:
    """The policy's verdict, and then the room's own answer where the room decides: a
    room that declined frees the span (calsync's booking `conflicted`, someone's meeting
    `declined`); calsync's booking the room has not answered yet is
    `awaiting_confirmation`. The policy's refusal stands whatever the room said."""
    if not change.room_decides or status != ReservationStatus.confirmed:
        return status, reason
    shown = _shown_partstat(change.obj, item.binding.room_address) if item.binding else None
    if shown == "DECLINED":
        occupancy.release(reservation_id)
        refused = (
            ReservationStatus.conflicted
            if origin == Origin.workplace
            else ReservationStatus.declined
        )
        return refused, ROOM_DECLINED
    if origin == Origin.workplace and shown not in ("ACCEPTED", "TENTATIVE"):
        return ReservationStatus.awaiting_confirmation, ROOM_WAITING
    return status, reason


def _judge(
    start: datetime,
    end: datetime,
    reservation_id: str,
    item: WorkplaceItem,
    occupancy: Occupancy,
    now: datetime,
) -> tuple[ReservationStatus, str]:
    """Confirmed (and holding the span) or declined with the reason."""
    refusal = check(start, end, item.policy, occupancy, now, reservation_id)
    if refusal is not None:
        return ReservationStatus.declined, str(refusal)
    occupancy.hold(start, end, reservation_id)
    return ReservationStatus.confirmed, ""


def _mirror(
    occurrence: Occurrence,
    change: Change,
    reservation_id: str,
    item: str,
    status: ReservationStatus,
    reason: str,
    origin: Origin = Origin.calendar,
) -> Reservation:
    return Reservation(
        id=reservation_id,
        item=item,
        start=occurrence.start,
        end=occurrence.end,
        status=status,
        origin=origin,
        uid=occurrence.uid,
        subject=occurrence.summary,
        organizer=occurrence.organizer,
        all_day=occurrence.all_day,
        recurrence_id=occurrence.recurrence_id,
        sequence=occurrence.sequence,
        provider_id=change.provider_id,
        provider_version=change.version,
        reason=reason,
    )


def _same_span(a: Reservation, b: Reservation) -> bool:
    return a.start == b.start and a.end == b.end


def _within(reservation: Reservation, window: Window) -> bool:
    return reservation.end > window.start and reservation.start < window.end


def _room_answer(
    change: Change, existing: Sequence[Reservation], actions: Sequence[Action], item: WorkplaceItem
) -> str | None:
    """ACCEPTED if any occurrence holds the room, DECLINED if all were declined.

    None when the binding names no room address or the calendar already shows the answer.
    """
    binding = item.binding
    if binding is None or not binding.room_address:
        return None
    if change.room_decides and any(r.origin == Origin.workplace for r in existing):
        return None  # calsync's own booking: the room answers it, not calsync
    statuses = {reservation_key(r): r.status for r in existing}
    statuses.update({reservation_key(a.reservation): a.reservation.status for a in actions})
    live = [statuses[o.key] for o in change.obj.occurrences if o.key in statuses]
    if not live:
        return None
    answer = "DECLINED" if all(s == ReservationStatus.declined for s in live) else "ACCEPTED"
    shown = _shown_partstat(change.obj, binding.room_address)
    if change.room_decides and shown == "DECLINED":
        return None  # the room said no itself
    return None if shown == answer else answer


def _shown_partstat(obj: CalendarObject, room_address: str) -> str | None:
    address = room_address.lower()
    for attendee in obj.master.attendees:
        if attendee.address == address:
            return attendee.partstat
    return None
