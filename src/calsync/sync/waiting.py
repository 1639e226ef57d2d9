"""Changes made in calsync and not yet sent, as a read of the calendar finds them.

When the calendar reports a change to a reservation whose own change (an update or a
cancellation made in calsync) still waits in the outbox, either side could be lost. The
rule, decided here once for the read and for the push that meets the calendar's change:
- calsync's own booking (made in calsync, not an occurrence): the binding's
  `conflict_resolution` decides. `calendar` (default): the calendar's change is applied
  and the queued event is superseded; `calsync`: the reservation keeps calsync's change,
  which is then sent over the calendar's version.
- someone else's meeting (an occurrence cancelled or moved in calsync, a meeting the room
  leaves): calsync's edit composes with the organizer's change. Their change is applied
  to everything else; this reservation keeps calsync's state, and the edit is written on
  top of their new version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from calsync.domain.decide import Plan, Update
from calsync.domain.items import ConflictResolution
from calsync.domain.reservations import Origin, Reservation
from calsync.store.items import StoredItem
from calsync.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Waiting:
    """Reservations with a change made in calsync not yet sent, as a read finds them.

    `keep`: a calendar change leaves them as calsync made them, and calsync's change is
    then sent over the calendar's (calsync's own bookings under `conflict_resolution =
    calsync`; an occurrence edit in someone else's series, which composes with their
    change). `supersede`: a calendar change wins and their queued change is dropped
    (calsync's own bookings under the default `calendar`)."""

    keep: frozenset[str] = frozenset()
    supersede: frozenset[str] = frozenset()


def calsync_owns(reservation: Reservation) -> bool:
    """A booking made in calsync, not an occurrence: its calendar object is calsync's own,
    replaced or deleted whole; anything else is someone else's and is edited in place."""
    return reservation.origin == Origin.workplace and reservation.recurrence_id is None


def waiting_changes(
    uow: UnitOfWork, stored: StoredItem, existing: dict[str, list[Reservation]]
) -> Waiting:
    found = {r.id: r for reservations in existing.values() for r in reservations}
    waiting = uow.events.waiting_changes(found) if found else set()
    if not waiting:
        return Waiting()
    binding = stored.item.binding
    calsync_wins = binding is not None and binding.conflict_resolution == ConflictResolution.calsync
    keep, supersede = set(), set()
    for reservation_id in waiting:
        if calsync_owns(found[reservation_id]) and not calsync_wins:
            supersede.add(reservation_id)
        else:
            keep.add(reservation_id)
    return Waiting(frozenset(keep), frozenset(supersede))


@dataclass(frozen=True)
class Kept:
    """A plan without its changes to reservations calsync keeps as it changed them."""

    plan: Plan
    #: The reservations whose calendar change was dropped, as the plan had them.
    dropped: tuple[Reservation, ...] = ()
    note: str = ""


def keeping(plan: Plan, keep: frozenset[str], as_read: dict[str, Reservation]) -> Kept:
    """`plan` without its updates of reservations calsync keeps: each keeps what calsync
    made of it and takes only the calendar's new version, the one calsync's waiting change
    is then written over (with `If-Match`). An occurrence the organizer removed (a Cancel)
    is not kept: there is nothing left to edit, and the change waiting for it is
    superseded by the caller."""
    kept = [a for a in plan.actions if a.reservation.id in keep and isinstance(a, Update)]
    if not kept:
        return Kept(plan)
    rebased = {
        a.reservation.id: Update(
            replace(as_read[a.reservation.id], provider_version=a.reservation.provider_version)
        )
        for a in kept
    }
    actions = tuple(rebased.get(a.reservation.id, a) if a in kept else a for a in plan.actions)
    note = f"; kept {len(kept)} as changed in calsync (its change waits to be sent over this)"
    return Kept(replace(plan, actions=actions), tuple(a.reservation for a in kept), note)
