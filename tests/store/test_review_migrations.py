"""Review: migrations 0005-0007 down and up again keep what guards double bookings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from calsync.store.db import alembic_config, make_engine
from tests.store.test_store import NINE


def _guards(connection) -> set[str]:
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index')"
                " AND tbl_name = 'reservations'"
            )
        )
    else:
        rows = connection.execute(
            text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'reservations'::regclass"
                " UNION SELECT tgname FROM pg_trigger WHERE tgrelid = 'reservations'::regclass"
                " AND NOT tgisinternal UNION SELECT indexname FROM pg_indexes"
                " WHERE tablename = 'reservations'"
            )
        )
    return {name for (name,) in rows}


def _book(connection, reservation_id: str) -> None:
    connection.execute(
        text(
            "INSERT INTO reservations (id, item_id, start_at, end_at, status, origin,"
            " uid, recurrence_key, subject, organizer, all_day, sequence, reason,"
            " created_at, updated_at) VALUES (:id, 1, :start, :end, 'confirmed',"
            " 'workplace', :uid, '', '', '', false, 0, '', :start, :start)"
        ),
        {
            "id": reservation_id,
            "uid": f"{reservation_id}@calsync",
            "start": NINE,
            "end": NINE + timedelta(hours=1),
        },
    )


@pytest.mark.parametrize("down_to", ["0006", "0005", "0004"])
def test_down_and_up_again_keeps_the_guards_and_refuses_a_double_booking(database_url, down_to):
    from alembic import command

    engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        command.upgrade(config, "head")
        with engine.begin() as connection:
            at_head = _guards(connection)
            connection.execute(
                text(
                    "INSERT INTO workplace_items (id, name, kind, time_zone, capacity, site,"
                    " building, floor, policy) VALUES (1, 'Room A', 'room', 'UTC', 1, '', '',"
                    " '', '{}')"
                )
            )
            _book(connection, "first")
        command.downgrade(config, down_to)
        command.upgrade(config, "head")
        with engine.begin() as connection:
            assert _guards(connection) == at_head
        with pytest.raises(IntegrityError), engine.begin() as connection:
            _book(connection, "second")
    finally:
        engine.dispose()
