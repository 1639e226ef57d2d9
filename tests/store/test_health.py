"""The dashboard's counts (`calsync.store.health`) on SQLite and PostgreSQL: what each
counts, by which day, and that on SQLite each count searches an index instead of
scanning the exchange log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.bulk import insert_rows
from calsync.store.health import REFUSED, UNSENT, health, recent_errors
from calsync.store.records import CALENDAR_ITEMS, EVENTS

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def services(database_url, clock):
    made = start(parse({"database": {"url": database_url}, "items": [{"name": "Room A"}]}), clock)
    yield made
    made.close()


def event_row(created: datetime, state: str, error: str = "", ended: datetime | None = None):
    return {
        "item_id": 1,
        "action": "read",
        "state": state,
        "payload": "{}",
        "provider_payload": "",
        "response": "",
        "error": error,
        "attempts": 1,
        "next_attempt_at": created,
        "created_at": created,
        "updated_at": ended or created,
        "claim_token": 0,
    }


def calendar_item_row(created: datetime, kind: str, event_id: int):
    return {
        "item_id": 1,
        "event_id": event_id,
        "kind": kind,
        "status": "applied",
        "provider_id": "x",
        "provider_payload": "",
        "outcome": "",
        "error": "",
        "created_at": created,
    }


@pytest.fixture
def log(services):
    yesterday, last_week = NOW - timedelta(days=1), NOW - timedelta(days=8)
    events = [
        event_row(NOW.replace(hour=9), "processed"),
        event_row(NOW.replace(hour=10), "new"),
        event_row(NOW.replace(hour=11), "error", "ProviderRejected: 403"),
        event_row(yesterday, "processed", ended=NOW.replace(hour=1)),
        event_row(yesterday, "error", "InvalidCalendarData: no DTSTART"),
        event_row(last_week, "error", "ProviderThrottled: retry"),
        event_row(last_week - timedelta(days=30), "error", "ProviderRejected: old"),
    ]
    with services.uow() as uow:
        insert_rows(uow.session, EVENTS, events)
        insert_rows(
            uow.session,
            CALENDAR_ITEMS,
            [
                calendar_item_row(NOW.replace(hour=9), "new_reservation", 1),
                calendar_item_row(yesterday, "cancellation", 4),
                calendar_item_row(last_week, "reservation_update", 6),
            ],
        )
        uow.commit()
    return services


def test_the_dashboard_counts_today_the_waiting_and_the_last_days_errors(log):
    with log.read() as uow:
        counted = health(uow.session, NOW)
    assert counted.events_today == 3
    assert counted.calendar_items_today == 1
    assert counted.events_waiting == 1
    assert counted.errors_last_day == 2  # today's and yesterday's, not last week's
    assert counted.calendar_items_by_kind == {
        "new_reservation": 1,
        "cancellation": 1,
        "reservation_update": 1,
    }
    # The one 38 days ago is out of the 30 days.
    assert counted.errors_by_cause == {REFUSED: 2, UNSENT: 1}


def test_the_series_count_each_day_by_when_it_ended(log):
    with log.read() as uow:
        counted = health(uow.session, NOW)
    processed = [day.count for day in counted.events_processed_per_day]
    assert len(processed) == 7
    assert processed[-1] == 2  # both ended today, one of them made yesterday
    assert sum(processed) == 2
    assert [day.count for day in counted.calendar_items_per_day][-2:] == [1, 1]
    assert len(counted.errors_per_day) == 30
    assert counted.errors_per_day[-1].refused == 1
    assert counted.errors_per_day[-2].unsent == 1
    assert counted.errors_per_day[-9].refused == 1
    with log.read() as uow:
        newest = [row.error for row in recent_errors(uow.session, NOW)]
    assert newest == [
        "ProviderRejected: 403",
        "InvalidCalendarData: no DTSTART",
        "ProviderThrottled: retry",
    ]


def test_no_count_of_the_dashboard_scans_the_log(log):
    if log.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plans are read here")
    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(log.engine, "before_cursor_execute", keep)
    try:
        with log.read() as uow:
            health(uow.session, NOW)
            recent_errors(uow.session, NOW)
    finally:
        event.remove(log.engine, "before_cursor_execute", keep)
    assert len(statements) == 21  # four counts, types, errors, 7 + 7 days, the list
    with log.engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            steps = " | ".join(row[-1] for row in plan)
            assert "SCAN events" not in steps, (statement, steps)
            assert "SCAN calendar_items" not in steps, (statement, steps)
            assert "USING" in steps, (statement, steps)


def test_migration_0008_adds_the_dashboard_indexes_and_takes_them_back(services):
    from alembic import command
    from sqlalchemy import inspect

    from calsync.store.db import alembic_config, schema_revision

    def indexes() -> set[str]:
        found = inspect(services.engine)
        return {i["name"] for t in ("events", "calendar_items") for i in found.get_indexes(t)}

    dashboard = {
        "ix_events_created",
        "ix_events_state_updated",
        "ix_calendar_items_created",
        "ix_events_item_state",
    }
    assert dashboard <= indexes()
    command.downgrade(alembic_config(services.engine), "0007")
    assert schema_revision(services.engine) == "0007"
    assert not dashboard & indexes()
    command.upgrade(alembic_config(services.engine), "head")
    assert dashboard <= indexes()
