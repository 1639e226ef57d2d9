"""`recheck_awaiting(services)`: bookings calsync sent to a service whose room answers on
its own, still without the room's answer after `sync.room_answer_wait_minutes`.

A room that declined or silently dropped a booking says so only in its calendar. Each
overdue booking's calendar is read again (a queued read, once); a booking still
unanswered although its calendar was read successfully after the wait ran out is given
up as `conflicted`, with the reason an admin sees in `reservations show`; while the
service cannot be read, the booking waits on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from calsync.bootstrap import Services
from calsync.domain.reservations import ReservationStatus


@dataclass
class Recheck:
    reads_queued: list[int] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)


def recheck_awaiting(services: Services) -> Recheck:
    minutes = services.settings.sync.room_answer_wait_minutes
    wait, now, done = timedelta(minutes=minutes), services.clock(), Recheck()
    with services.uow() as uow:
        overdue = uow.reservations.awaiting_since(now - wait)
        if not overdue:
            return done
        # Only a read that succeeded says the room has not answered: a failed one (the
        # service down) says nothing, and the booking waits on.
        read_at = uow.synchronizations.last_succeeded()
        names = uow.items.names()
        for reservation_id, item_id, since in overdue:
            last_read = read_at.get(item_id)
            if last_read is not None and last_read >= since + wait:
                why = (
                    f"the room did not answer within {minutes:g} minutes of calsync sending "
                    "it (declined or dropped by the room's calendar)"
                )
                conflicted = ReservationStatus.conflicted
                uow.reservations.settle_room_answer(item_id, reservation_id, conflicted, why, now)
                done.given_up.append(reservation_id)
                continue
            payload = {"item": names.get(item_id, ""), "full": False, "confirm_sweep": False}
            event_id = uow.events.queue_read(item_id, now, payload)
            if event_id is not None and event_id not in done.reads_queued:
                done.reads_queued.append(event_id)
        uow.commit()
    return done
