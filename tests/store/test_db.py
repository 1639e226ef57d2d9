"""PostgreSQL connections: a pooled connection killed while it sat idle (a database
restart, a proxy's idle timeout) is replaced before use; a busy one is not pinged; a
lookup runs outside any transaction; an item's writer lock is taken once per transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.events import Action
from calsync.store import db
from calsync.store.db import make_engine
from calsync.sync import reservations as reservation_service

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
NINE = datetime(2026, 12, 3, 9, tzinfo=UTC)


def terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")))


def test_a_pooled_connection_killed_while_idle_is_replaced_before_use(database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # every pooled connection counts as idle
    engine = make_engine(database_url)
    first = backend_pid(engine)
    terminate(database_url, first)

    assert backend_pid(engine) != first  # no error: the dead connection was replaced
    engine.dispose()


def test_a_connection_back_in_the_pool_a_moment_ago_is_used_without_a_ping(
    database_url, monkeypatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)
    engine = make_engine(database_url)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    for _ in range(5):
        backend_pid(engine)

    assert pings == []
    engine.dispose()


@pytest.fixture
def services(database_url, clock):
    settings = {
        "database": {"url": database_url},
        "connections": {"dav": {"kind": "caldav", "url": "http://127.0.0.1:9/"}},
        "items": [{"name": "Room A", "binding": {"connection": "dav", "calendar": "/rooms/a/"}}],
    }
    made = start(parse(settings), clock)
    yield made
    made.close()


def test_a_lookup_runs_outside_a_transaction(services):
    with services.lookup() as uow:
        in_transaction = uow.session.scalar(text("SELECT now() <> statement_timestamp()"))
        assert not in_transaction  # outside a transaction each statement is its own
    with services.read() as uow:
        uow.session.execute(text("SELECT pg_sleep(0.01)"))
        assert uow.session.scalar(text("SELECT now() <> statement_timestamp()"))


def held_item_locks(uow) -> int:
    return int(
        uow.session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted"
            )
        )
    )


def test_the_item_lock_is_taken_again_in_the_next_transaction_of_a_unit_of_work(services):
    with services.read() as uow:
        item_id = uow.items.get("Room A").id
    with services.uow() as uow:
        uow.reservations.lock_item(item_id)  # the transaction's first statement
        uow.commit()  # the lock goes with the transaction
        uow.reservations.lock_item(item_id)  # the next one's first statement
        assert held_item_locks(uow) == 1
        uow.commit()
        assert held_item_locks(uow) == 0


def test_a_booking_reads_its_item_once_takes_its_lock_once_and_queues_its_event(services):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(services.engine, "before_cursor_execute", seen)
    made = reservation_service.create(services, "Room A", NINE, NINE + timedelta(hours=1))
    event.remove(services.engine, "before_cursor_execute", seen)

    assert sum("pg_advisory_xact_lock" in s for s in statements) == 1
    assert sum("FROM workplace_items" in s for s in statements) == 1
    with services.engine.connect() as connection:
        queued = connection.execute(
            text("SELECT action, state FROM events WHERE reservation_id = :id"), {"id": made.id}
        ).all()
    assert queued == [(Action.create.value, "new")]


def test_the_exchange_log_is_vacuumed_after_one_percent_of_new_rows(database_url):
    """Index-only counts of the day's events need the visibility map a vacuum keeps: the
    default waits for 20% of the table to be new (200,000 events on a log of a million)."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        options = dict(
            connection.execute(
                text(
                    "SELECT relname, array_to_string(reloptions, ',') FROM pg_class "
                    "WHERE relname IN ('events', 'calendar_items', 'synchronizations')"
                )
            ).all()
        )
    engine.dispose()
    assert set(options) == {"events", "calendar_items", "synchronizations"}
    for table, set_options in options.items():
        assert "autovacuum_vacuum_insert_scale_factor=0.01" in set_options, table
        assert "autovacuum_analyze_scale_factor=0.02" in set_options, table
