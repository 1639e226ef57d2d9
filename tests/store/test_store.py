"""The store on SQLite and PostgreSQL: double booking refused by the database itself,
safe-by-default transactions, and the event queue's claiming rules."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.entries import Window
from calsync.domain.events import Action
from calsync.domain.reservations import HOLDING, Origin, Reservation, ReservationStatus
from calsync.errors import DoubleBooking
from calsync.store.bulk import BULK_FROM
from calsync.store.reservations import HOLDING_CONDITION, ReservationFilter, holding
from calsync.sync import reservations as reservation_service
from calsync.sync.reservations import PolicyViolation

NINE = datetime(2026, 12, 3, 9, tzinfo=UTC)


@pytest.fixture
def services(database_url, clock):
    made = start(
        parse(
            {
                "database": {"url": database_url},
                "items": [{"name": "Room A"}, {"name": "Room B"}],
            }
        ),
        clock,
    )
    yield made
    made.close()


def booking(item: str, start: datetime, hours: float = 1, status=ReservationStatus.confirmed):
    return Reservation(
        id=str(uuid.uuid4()),
        item=item,
        start=start,
        end=start + timedelta(hours=hours),
        status=status,
        origin=Origin.calendar,
        uid=str(uuid.uuid4()),
    )


def add(services, *reservations: Reservation) -> None:
    with services.uow() as uow:
        uow.reservations.add_many(list(reservations), services.clock())
        uow.commit()


def test_the_database_refuses_a_double_booking_even_without_the_policy(services):
    add(services, booking("Room A", NINE))
    with pytest.raises(DoubleBooking):
        add(services, booking("Room A", NINE + timedelta(minutes=30)))


def test_a_bulk_write_with_one_double_booking_is_refused_whole(services):
    """From BULK_FROM rows on, the database's bulk path (COPY, executemany) is taken."""
    add(services, booking("Room A", NINE))
    rows = [booking("Room A", NINE + timedelta(hours=hour)) for hour in range(1, BULK_FROM + 1)]
    with pytest.raises(DoubleBooking):
        add(services, *rows, booking("Room A", NINE + timedelta(minutes=30)))
    with services.uow() as uow:
        assert len(uow.reservations.find(ReservationFilter(limit=1000))) == 1


def test_back_to_back_and_other_items_and_released_spans_are_not_double_bookings(services):
    add(services, booking("Room A", NINE))
    add(
        services,
        booking("Room A", NINE + timedelta(hours=1)),  # starts when the first ends
        booking("Room B", NINE),  # another room
        booking("Room A", NINE, status=ReservationStatus.declined),
        booking("Room A", NINE, status=ReservationStatus.cancelled),
    )
    with services.uow() as uow:
        assert len(uow.reservations.find(ReservationFilter(limit=100))) == 5


def test_moving_a_reservation_onto_another_is_refused(services):
    first, second = booking("Room A", NINE), booking("Room A", NINE + timedelta(hours=2))
    add(services, first, second)
    with services.uow() as uow, pytest.raises(DoubleBooking):
        uow.reservations.save(
            Reservation(**{**second.__dict__, "start": NINE, "end": NINE + timedelta(hours=1)}),
            services.clock(),
        )


def test_leaving_a_unit_of_work_without_commit_rolls_back(services):
    with services.uow() as uow:
        uow.reservations.add(booking("Room A", NINE), services.clock())
    with services.uow() as uow:
        assert uow.reservations.find(ReservationFilter()) == []


def test_racing_writers_never_double_book_one_item(services):
    """Each round, eight bookings of one hour race: one is booked, the others are refused
    as a double booking (on PostgreSQL none dies of a deadlock in the exclusion check)."""
    writers, rounds = 8, 6
    outcomes: list[str] = []

    def book(start: datetime, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            reservation_service.create(services, "Room A", start, start + timedelta(hours=1))
            outcomes.append("booked")
        except (DoubleBooking, PolicyViolation):
            outcomes.append("refused")
        except DBAPIError as exc:  # a deadlock: what this test is about
            outcomes.append(f"{type(exc).__name__}: {exc}")

    for round_ in range(rounds):
        barrier = threading.Barrier(writers)
        start = NINE + timedelta(hours=round_)
        threads = [threading.Thread(target=book, args=(start, barrier)) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["booked"] * rounds + ["refused"] * (writers - 1) * rounds
    with services.uow() as uow:
        assert len(uow.reservations.find(ReservationFilter(status="confirmed"))) == rounds


def test_a_booking_racing_a_synchronization_batch_is_refused_not_deadlocked(services):
    """A batch of a synchronization books 9-10, a user then tries 9:30-10:30 while the
    batch still writes, and the batch goes on with 10-11: the batch lands whole and the
    user's booking is refused. (PostgreSQL without the per-item writer lock: the user's
    insert waits for the batch, the batch's second insert waits for the user's: deadlock.)"""
    outcome: list[str] = []

    def user_books() -> None:
        half_past = NINE + timedelta(minutes=30)
        try:
            reservation_service.create(
                services, "Room A", half_past, half_past + timedelta(hours=1)
            )
            outcome.append("booked")
        except (DoubleBooking, PolicyViolation) as exc:
            outcome.append(f"refused: {exc}")
        except DBAPIError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    with services.uow() as batch:
        batch.reservations.add_many([booking("Room A", NINE)], services.clock())
        user = threading.Thread(target=user_books)
        user.start()
        user.join(timeout=0.5)  # the user now waits for the batch
        batch.reservations.add_many(
            [booking("Room A", NINE + timedelta(hours=1))], services.clock()
        )
        batch.commit()
    user.join()
    assert len(outcome) == 1
    assert outcome[0].startswith("refused: conflict"), outcome
    with services.uow() as uow:
        held = uow.reservations.find(ReservationFilter(status="confirmed"))
    assert [r.start for r in held] == [NINE, NINE + timedelta(hours=1)]


def test_a_cancel_racing_a_push_keeps_where_the_provider_put_the_reservation(services):
    """The push of a new booking records its provider id while the user cancels it: the
    cancellation waits, then sees the provider id, so its delete reaches the calendar."""
    made = reservation_service.create(services, "Room A", NINE, NINE + timedelta(hours=1))
    sent = replace(made, provider_id="/rooms/a/made.ics", provider_version='"1"')
    cancelled: list[Reservation] = []
    user = threading.Thread(
        target=lambda: cancelled.append(reservation_service.cancel(services, made.id))
    )
    with services.uow() as push:
        push.reservations.set_provider_ref(push.items.get("Room A").id, sent)
        user.start()
        user.join(timeout=0.5)  # the user now waits for the push
        push.commit()
    user.join()
    assert cancelled[0].provider_id == "/rooms/a/made.ics"  # what the delete event is sent to
    with services.uow() as uow:
        final = uow.reservations.get(made.id)
    assert final.status == ReservationStatus.cancelled
    assert (final.provider_id, final.provider_version) == ("/rooms/a/made.ics", '"1"')


def test_the_policy_refuses_what_the_item_does_not_accept(services):
    with pytest.raises(PolicyViolation, match="booking_window"):
        reservation_service.create(
            services, "Room A", NINE + timedelta(days=400), NINE + timedelta(days=400, hours=1)
        )


def test_only_one_synchronization_of_a_calendar_is_claimed_at_a_time(services):
    lease = timedelta(minutes=5)
    with services.uow() as uow:
        room_a, room_b = uow.items.get("Room A").id, uow.items.get("Room B").id
        for item_id in (room_a, room_a, room_b):
            uow.events.add(item_id, Action.read, services.clock(), {})
        uow.commit()
    with services.uow() as uow:
        first = [(e.item_id, e.action) for e in uow.events.claim(services.clock(), lease, 10)]
        uow.commit()
    assert sorted(first) == sorted([(room_a, "read"), (room_b, "read")])
    with services.uow() as uow:
        assert uow.events.claim(services.clock(), lease, 10) == []  # Room A is still being read
        uow.commit()
    services.clock.advance(minutes=6)  # the worker reading Room A died: its lease ran out
    with services.uow() as uow:
        assert len(uow.events.claim(services.clock(), lease, 10)) == 2
        uow.commit()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_claim_disjoint_events_with_skip_locked(services):
    """SKIP LOCKED is the PostgreSQL claim; SQLite runs one writer at a time."""
    with services.uow() as uow:
        item_id = uow.items.get("Room A").id
        for _ in range(6):
            uow.events.add(item_id, Action.create, services.clock(), {})
        uow.commit()
    lease = timedelta(minutes=5)
    with services.uow() as first, services.uow() as second:
        mine = {e.id for e in first.events.claim(services.clock(), lease, 4)}
        theirs = {e.id for e in second.events.claim(services.clock(), lease, 4)}  # not blocked
        first.commit()
        second.commit()
    assert len(mine) == 4
    assert len(theirs) == 2
    assert not mine & theirs


def test_a_large_batch_is_refused_whole_if_one_of_it_double_books(services):
    add(services, booking("Room A", NINE))
    many = [booking("Room A", NINE + timedelta(days=1, hours=2 * n)) for n in range(150)]
    with pytest.raises(DoubleBooking):
        add(services, *many, booking("Room A", NINE + timedelta(minutes=15)))
    add(services, *many)  # the same batch without the clash goes in whole
    with services.uow() as uow:
        assert len(uow.reservations.find(ReservationFilter(limit=1000))) == 151


def test_the_schema_revision_the_code_expects_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    from calsync.store.db import MIGRATIONS, SCHEMA_REVISION

    scripts = ScriptDirectory(str(MIGRATIONS))
    assert scripts.get_current_head() == SCHEMA_REVISION


def test_the_occupancy_query_takes_the_partial_index_of_holding_reservations(services):
    with services.uow() as uow:
        item_id = uow.items.get("Room A").id
        uow.reservations.add(booking("Room A", NINE), NINE)
        uow.reservations.add(booking("Room A", NINE, status=ReservationStatus.declined), NINE)
        uow.commit()
    window = Window(NINE - timedelta(days=1), NINE + timedelta(days=1))
    with services.uow() as uow:
        assert len(uow.reservations.holding_spans(item_id, window)) == 1  # declined is not held
        if services.engine.dialect.name != "sqlite":
            return
        query = str(holding(item_id, window).compile(services.engine))
        connection = uow.session.connection()
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", (item_id, "", "")).all()
    assert "ix_reservations_holding" in str(plan)


def test_the_holding_condition_names_every_holding_status():
    assert set(re.findall(r"'(\w+)'", str(HOLDING_CONDITION))) == {s.value for s in HOLDING}
