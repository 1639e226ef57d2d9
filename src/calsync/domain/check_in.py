"""Check-in, check-out and no-shows: is the item used by whoever reserved it?

Any reservation that holds its item can be checked in, from `check_in_opens` before its
start (the item's `BookingPolicy`) until it ends, and checked out early once started.
`check_in(reservation, policy, now)` and `check_out(reservation, policy, now)` return the
reservation as it becomes, or raise `CheckInRefused` saying why. A check-out ends the
reservation at that moment, rounded up to the whole minute: the rest of its span is free.

Where the policy sets `check_in_required`, a reservation still running and not checked in
`no_show_after` its start is a no-show (`is_no_show`): `release(reservation, policy, now)`
cancels it, as a cancellation would, and says so on the reservation. A check-out there
needs a check-in first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from calsync.domain.bookings import in_words
from calsync.domain.items import BookingPolicy
from calsync.domain.reservations import Reservation
from calsync.errors import CheckInRefused

#: A check-out's end is rounded up to this, and a reservation lasts at least this long.
CHECK_OUT_STEP = timedelta(minutes=1)


def check_in(reservation: Reservation, policy: BookingPolicy, now: datetime) -> Reservation:
    """The reservation checked in at `now`."""
    _still_held(reservation, "checked in")
    if reservation.checked_in_at is not None:
        when = _at(reservation.checked_in_at)
        raise CheckInRefused(f"reservation {reservation.id} was already checked in at {when}")
    _not_ended(reservation, now)
    opens = check_in_opens(reservation, policy)
    if now < opens:
        raise CheckInRefused(
            f"too early: check-in of reservation {reservation.id} opens at {_at(opens)}, "
            f"{in_words(policy.check_in_opens)} before its start"
        )
    return replace(reservation, checked_in_at=now)


def check_out(reservation: Reservation, policy: BookingPolicy, now: datetime) -> Reservation:
    """The reservation checked out at `now`: it ends then (rounded up to the minute, never
    later than it ended before). An all-day reservation becomes a timed one."""
    _still_held(reservation, "checked out")
    _not_ended(reservation, now)
    if now < reservation.start:
        raise CheckInRefused(
            f"reservation {reservation.id} has not started: it starts at "
            f"{_at(reservation.start)}; cancel it instead"
        )
    if policy.check_in_required and reservation.checked_in_at is None:
        raise CheckInRefused(
            f"reservation {reservation.id} is not checked in: {reservation.item} needs a "
            "check-in before a check-out"
        )
    end = min(reservation.end, max(_minute_up(now), reservation.start + CHECK_OUT_STEP))
    all_day = reservation.all_day and end == reservation.end
    return replace(reservation, end=end, all_day=all_day, checked_out_at=now)


def check_in_opens(reservation: Reservation, policy: BookingPolicy) -> datetime:
    return reservation.start - policy.check_in_opens


def no_show_deadline(reservation: Reservation, policy: BookingPolicy) -> datetime:
    """Not checked in by then, the reservation is a no-show (where check-in is required)."""
    return reservation.start + policy.no_show_after


def is_no_show(reservation: Reservation, policy: BookingPolicy, now: datetime) -> bool:
    """Whether the reservation is released as a no-show at `now`: check-in is required, it
    holds its item and was never checked in (nor out), its grace period is over, and it
    has not ended (an ended one has nothing left to free)."""
    return (
        policy.check_in_required
        and reservation.holds_item
        and reservation.checked_in_at is None
        and reservation.checked_out_at is None
        and no_show_deadline(reservation, policy) <= now < reservation.end
    )


def no_shows(
    reservations: list[Reservation], policy: BookingPolicy, now: datetime
) -> list[Reservation]:
    return [r for r in reservations if is_no_show(r, policy, now)]


def release(reservation: Reservation, policy: BookingPolicy, now: datetime) -> Reservation:
    """The no-show released: cancelled, with why and when."""
    if not is_no_show(reservation, policy, now):
        raise CheckInRefused(f"reservation {reservation.id} is not a no-show at {_at(now)}")
    why = (
        f"released as a no-show: not checked in within {in_words(policy.no_show_after)} "
        "of its start"
    )
    return replace(reservation.cancel(why), no_show_released_at=now)


def _still_held(reservation: Reservation, what: str) -> None:
    if not reservation.holds_item:
        released = reservation.no_show_released_at
        if released is not None:
            raise CheckInRefused(
                f"reservation {reservation.id} was released as a no-show at {_at(released)}"
            )
        raise CheckInRefused(
            f"reservation {reservation.id} is {reservation.status.value}: only one that "
            f"holds its item can be {what}"
        )
    if reservation.checked_out_at is not None:
        raise CheckInRefused(
            f"reservation {reservation.id} was already checked out at "
            f"{_at(reservation.checked_out_at)}"
        )


def _not_ended(reservation: Reservation, now: datetime) -> None:
    if now >= reservation.end:
        raise CheckInRefused(
            f"reservation {reservation.id} already ended at {_at(reservation.end)}"
        )


def _minute_up(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + CHECK_OUT_STEP


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()
