"""Review: a room whose own calendar approves, its delegate changing their mind."""

from __future__ import annotations

from dataclasses import replace

from calsync.domain.decide import decide
from calsync.domain.items import BookingPolicy, WorkplaceItem
from calsync.domain.occupancy import Occupancy
from calsync.domain.reservations import ReservationStatus
from tests.domain.test_decide_approvals import BINDING, NOW, at, ids, meeting

APPROVING = WorkplaceItem(
    name="Board", policy=BookingPolicy(), binding=replace(BINDING, room_approves=True)
)


def test_a_delegate_accepting_again_after_declining_confirms_the_booking_again():
    """The room's delegate accepts, then declines, then accepts again (a misclick put
    right). The calendar shows the room ACCEPTED; calsync must not keep the booking
    declined with its slot free for anyone else."""
    new_id = ids()
    [create] = decide(
        meeting("m", (at(9), at(10)), partstat="ACCEPTED"), [], APPROVING, Occupancy(), NOW, new_id
    ).actions
    assert create.reservation.status == ReservationStatus.confirmed
    [declined] = decide(
        meeting("m", (at(9), at(10)), partstat="DECLINED"),
        [create.reservation], APPROVING, Occupancy(), NOW, new_id,
    ).actions  # fmt: skip
    assert declined.reservation.status == ReservationStatus.declined
    [again] = decide(
        meeting("m", (at(9), at(10)), partstat="ACCEPTED"),
        [declined.reservation], APPROVING, Occupancy(), NOW, new_id,
    ).actions  # fmt: skip
    assert again.reservation.status == ReservationStatus.confirmed, again.reservation
