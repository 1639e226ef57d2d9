"""Check-in from the service layer: `check_in`, `check_out` and `release_no_shows`.

The rules are the domain's (`calsync.domain.check_in`); here each one runs in one
transaction under the item's writer lock, reading the reservation as committed
(`get_for_write`), and writes its facts only if they are still as read
(`record_check_in`): a check-in and a no-show release that race give one outcome, and
two workers releasing at once release each no-show once.

A check-out that shortens the reservation goes to the calendar as `reservations update`
does (an `update` event from the outbox: calsync's own booking is rewritten, someone's
meeting is edited in place). A no-show release goes as `reservations cancel` does (a
`delete` event: the room is free in the calendar). A check-in changes nothing there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import timedelta

from calsync.bootstrap import Services
from calsync.domain import check_in as rules
from calsync.domain.events import Action
from calsync.domain.reservations import Reservation
from calsync.store.items import StoredItem
from calsync.sync.reservations import outbox, withdraw_approval


def check_in(services: Services, reservation_id: str) -> Reservation:
    """Check the reservation in now; `CheckInRefused` says why it cannot be."""
    with services.uow() as uow:
        now = services.clock()
        current = uow.reservations.get_for_write(reservation_id)
        stored = uow.items.get(current.item)
        checked_in = rules.check_in(current, stored.item.policy, now)
        uow.reservations.record_check_in(stored.id, checked_in, current)
        uow.commit()
    return checked_in


def check_out(services: Services, reservation_id: str) -> Reservation:
    """Check the reservation out now: it ends then, in calsync and in the calendar."""
    with services.uow() as uow:
        now = services.clock()
        current = uow.reservations.get_for_write(reservation_id)
        stored = uow.items.get(current.item)
        checked_out = rules.check_out(current, stored.item.policy, now)
        if checked_out.end != current.end:
            checked_out = replace(checked_out, sequence=current.sequence + 1)
            uow.reservations.update_many([checked_out], now, as_read=[current])
            outbox(uow, stored, Action.update, checked_out, now)
        uow.reservations.record_check_in(stored.id, checked_out, current)
        uow.commit()
    return checked_out


@dataclass
class Released:
    """What one run of `release_no_shows` did: the reservations released, and those a
    check-in (or another worker's release) reached first."""

    released: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)


def release_no_shows(services: Services) -> Released:
    """Release every reservation that is a no-show now, each in its own transaction."""
    now, done = services.clock(), Released()
    with services.read() as uow:
        requiring = [s for s in uow.items.all() if s.item.policy.check_in_required]
        by_grace: dict[timedelta, list[StoredItem]] = defaultdict(list)
        for stored in requiring:
            by_grace[stored.item.policy.no_show_after].append(stored)
        due = [
            (reservation_id, item_id)
            for grace, items in by_grace.items()
            for reservation_id, item_id in uow.reservations.no_show_candidates(
                [stored.id for stored in items], now - grace, now
            )
        ]
    stored_by_id = {stored.id: stored for stored in requiring}
    for reservation_id, item_id in due:
        stored = stored_by_id[item_id]
        with services.uow() as uow:
            current = uow.reservations.get_for_write(reservation_id)
            policy = stored.item.policy
            if not rules.is_no_show(current, policy, now):
                done.passed.append(reservation_id)  # checked in or released meanwhile
                continue
            released = rules.release(current, policy, now)
            uow.reservations.update_many([released], now, as_read=[current])
            uow.reservations.record_check_in(stored.id, released, current)
            withdraw_approval(uow, current, "released as a no-show", now)
            outbox(uow, stored, Action.delete, released, now)
            uow.commit()
        done.released.append(reservation_id)
    return done
