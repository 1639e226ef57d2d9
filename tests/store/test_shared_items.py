"""An item whose policy allows conflicts (a shared desk area, a pool car): the database
refuses overlapping holds only on items that do not allow them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import Origin, Reservation, ReservationStatus
from calsync.errors import DoubleBooking

NINE = datetime(2026, 12, 3, 9, tzinfo=UTC)


@pytest.fixture
def services(database_url, clock):
    made = start(
        parse(
            {
                "database": {"url": database_url},
                "items": [
                    {"name": "Shared", "policy": {"allow_conflicts": True}},
                    {"name": "Room A"},
                ],
            }
        ),
        clock,
    )
    yield made
    made.close()


def booking(item: str, hours: float = 1) -> Reservation:
    return Reservation(
        id=str(uuid.uuid4()),
        item=item,
        start=NINE,
        end=NINE + timedelta(hours=hours),
        status=ReservationStatus.confirmed,
        origin=Origin.calendar,
        uid=str(uuid.uuid4()),
    )


def add(services, *reservations: Reservation) -> None:
    with services.uow() as uow:
        uow.reservations.add_many(list(reservations), services.clock())
        uow.commit()


def test_an_item_that_allows_conflicts_holds_overlapping_bookings(services):
    add(services, booking("Shared"))
    add(services, booking("Shared", hours=2), booking("Shared"))
    with services.read() as uow:
        assert len(uow.reservations.holding_spans(uow.items.get("Shared").id, _window())) == 3


def test_an_item_that_does_not_still_refuses_them(services):
    add(services, booking("Room A"))
    with pytest.raises(DoubleBooking):
        add(services, booking("Room A", hours=2))


def test_once_an_item_stops_allowing_conflicts_a_new_overlap_is_refused(
    services, database_url, clock
):
    add(services, booking("Shared"))
    services.close()
    stricter = start(
        parse({"database": {"url": database_url}, "items": [{"name": "Shared"}]}), clock
    )
    try:
        with pytest.raises(DoubleBooking):
            add(stricter, booking("Shared", hours=2))
    finally:
        stricter.close()


def _window():
    from calsync.domain.entries import Window

    return Window(NINE - timedelta(days=1), NINE + timedelta(days=1))
