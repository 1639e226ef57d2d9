"""Check-in facts in the store, on SQLite and PostgreSQL: the no-show candidates of an
item, read from their own index; facts written only while still as read; a database of
the revision before keeps its reservations through the migration."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import ReservationStatus
from calsync.errors import ReservationChanged
from calsync.store.db import alembic_config, make_engine
from calsync.store.reservations import ReservationFilter, check_in_overdue
from tests.store.test_store import NINE, add, booking


@pytest.fixture
def services(database_url, clock):
    made = start(
        parse(
            {"database": {"url": database_url}, "items": [{"name": "Room A"}, {"name": "Room B"}]}
        ),
        clock,
    )
    yield made
    made.close()


def test_no_show_candidates_are_the_running_unchecked_holding_reservations_past_their_grace(
    services,
):
    running = booking("Room A", NINE)
    later = booking("Room A", NINE + timedelta(minutes=70))
    ended = booking("Room A", NINE - timedelta(hours=1))
    declined = booking("Room A", NINE - timedelta(hours=1), 2, ReservationStatus.declined)
    checked_in = booking("Room B", NINE)
    add(services, running, later, ended, declined, checked_in)
    with services.uow() as uow:
        room_a, room_b = uow.items.get("Room A").id, uow.items.get("Room B").id
        uow.reservations.record_check_in(
            room_b, replace(checked_in, checked_in_at=NINE), checked_in
        )
        uow.commit()
    now = NINE + timedelta(minutes=15)
    with services.uow() as uow:
        candidates = uow.reservations.no_show_candidates
        assert candidates([room_a], now - timedelta(minutes=15), now) == [(running.id, room_a)]
        assert candidates([room_a], now - timedelta(minutes=16), now) == []  # grace not over
        assert candidates([room_b], now - timedelta(minutes=15), now) == []
        assert candidates([room_a, room_b], now - timedelta(minutes=15), now) == [
            (running.id, room_a)
        ]


def test_the_no_show_query_takes_the_index_of_reservations_due_a_check_in(services):
    if services.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner picks by its statistics")
    overdue = check_in_overdue([1, 2], NINE, NINE)
    query = str(overdue.compile(services.engine, compile_kwargs={"render_postcompile": True}))
    with services.uow() as uow:
        explain = uow.session.connection().exec_driver_sql
        plan = explain(f"EXPLAIN QUERY PLAN {query}", (1, 2, "", ""))
        assert "ix_reservations_check_in_due" in str(plan.all())


def test_check_in_facts_are_written_only_while_still_as_read(services):
    first = booking("Room A", NINE)
    add(services, first)
    with services.uow() as uow:
        uow.reservations.record_check_in(1, replace(first, checked_in_at=NINE), first)
        uow.commit()
    released = replace(first, no_show_released_at=NINE + timedelta(minutes=15))
    with services.uow() as uow, pytest.raises(ReservationChanged):
        uow.reservations.record_check_in(1, released, first)  # read before the check-in
    with services.uow() as uow:
        stored = uow.reservations.get(first.id)
    assert (stored.checked_in_at, stored.no_show_released_at) == (NINE, None)


def test_a_reservation_written_whole_keeps_its_check_in_facts(services):
    first = booking("Room A", NINE)
    add(services, first)
    with services.uow() as uow:
        uow.reservations.record_check_in(1, replace(first, checked_in_at=NINE), first)
        uow.reservations.save(replace(first, subject="Renamed in the calendar"), NINE)
        uow.commit()
    with services.uow() as uow:
        assert uow.reservations.get(first.id).checked_in_at == NINE


def test_reservations_made_before_the_check_in_columns_read_as_never_checked_in(
    database_url, tmp_path
):
    from alembic import command

    engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        command.upgrade(config, "0005")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO workplace_items (id, name, kind, time_zone, capacity, site,"
                    " building, floor, policy) VALUES (1, 'Room A', 'room', 'UTC', 1, '', '',"
                    " '', '{}')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO reservations (id, item_id, start_at, end_at, status, origin,"
                    " uid, recurrence_key, subject, organizer, all_day, sequence, reason,"
                    " created_at, updated_at) VALUES ('old', 1, :start, :end, 'confirmed',"
                    " 'workplace', 'old@calsync', '', '', '', false, 0, '', :start, :start)"
                ),
                {"start": NINE, "end": NINE + timedelta(hours=1)},
            )
        command.upgrade(config, "head")
        command.downgrade(config, "0005")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
    made = start(parse({"database": {"url": database_url}, "items": [{"name": "Room A"}]}))
    try:
        with made.uow() as uow:
            [old] = uow.reservations.find(ReservationFilter())
    finally:
        made.close()
    assert (old.id, old.checked_in_at, old.checked_out_at, old.no_show_released_at) == (
        "old",
        None,
        None,
        None,
    )
