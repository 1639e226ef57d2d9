"""The dashboard's counts (`calsync.store.health`) on SQLite and PostgreSQL: what each
counts, by which day, today's read at once and the closed days' kept for a few minutes
(`HistoryCache`), and that on SQLite each count searches an index instead of scanning
the exchange log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.bulk import insert_rows
from calsync.store.health import (
    LIFETIME,
    REFUSED,
    STALE_LIMIT,
    UNSENT,
    HistoryCache,
    delta_keys_issued_at,
    health,
    read_history,
    recent_errors,
)
from calsync.store.records import CALENDAR_ITEMS, EVENTS
from calsync.store.tables import SynchronizationRow

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

    cache = HistoryCache()
    event.listen(log.engine, "before_cursor_execute", keep)
    try:
        with log.read() as uow:
            health(uow.session, NOW, cache)
            recent_errors(uow.session, NOW)
            # The closed days (types, processed, errors: one range per day each, in one
            # statement), the same three for today, three counts and the list.
            assert len(statements) == 10
            health(uow.session, NOW + timedelta(minutes=1), cache)
            assert len(statements) == 16  # the closed days from the cache
    finally:
        event.remove(log.engine, "before_cursor_execute", keep)
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


def add_events(services, *rows) -> list[int]:
    with services.uow() as uow:
        insert_rows(uow.session, EVENTS, list(rows))
        uow.commit()
    with services.read() as uow:
        newest = uow.session.execute(text("SELECT max(id) FROM events")).scalar_one()
    return list(range(newest - len(rows) + 1, newest + 1))


def add_calendar_items(services, *rows) -> None:
    with services.uow() as uow:
        insert_rows(uow.session, CALENDAR_ITEMS, list(rows))
        uow.commit()


def read(services, now, cache):
    with services.read() as uow:
        return health(uow.session, now, cache)


def test_todays_counts_move_at_once_while_the_closed_days_come_from_the_cache(log):
    cache = HistoryCache()
    before = read(log, NOW, cache)
    assert before.history_as_of is None  # read at this very moment
    yesterday = NOW - timedelta(hours=20)
    [today_id, *_] = add_events(
        log,
        event_row(NOW.replace(hour=12), "processed"),
        event_row(NOW.replace(hour=12), "error", "InvalidCalendarData: no DTSTART"),
        event_row(yesterday, "error", "ProviderRejected: 409"),
    )
    add_calendar_items(
        log,
        calendar_item_row(NOW.replace(hour=12), "cancellation", today_id),
        calendar_item_row(yesterday, "cancellation", today_id),
    )
    later = NOW + timedelta(minutes=1)
    after = read(log, later, cache)
    assert after.events_today == before.events_today + 2
    assert after.calendar_items_today == before.calendar_items_today + 1
    assert after.events_processed_per_day[-1].count == before.events_processed_per_day[-1].count + 1
    assert after.calendar_items_per_day[-1].count == before.calendar_items_per_day[-1].count + 1
    assert after.events_waiting == before.events_waiting
    assert (before.errors_last_day, after.errors_last_day) == (2, 3)  # a single score: live
    assert after.errors_per_day[-1].unsent == before.errors_per_day[-1].unsent + 1
    # Yesterday's figures are the cache's, and the page can say from when.
    assert after.errors_per_day[-2] == before.errors_per_day[-2]
    assert after.calendar_items_per_day[-2] == before.calendar_items_per_day[-2]
    assert after.calendar_items_by_kind["cancellation"] == 2  # today's one added
    assert after.history_as_of == NOW


def test_closed_days_older_than_the_lifetime_are_served_and_read_again_after(log):
    cache = HistoryCache()
    before = read(log, NOW, cache)
    assert not cache.due(NOW)
    add_events(log, event_row(NOW - timedelta(days=1), "error", "ProviderRejected: 409"))
    just_before = read(log, NOW + LIFETIME - timedelta(seconds=1), cache)
    assert just_before.errors_per_day[-2] == before.errors_per_day[-2]
    assert just_before.history_as_of == NOW
    assert not cache.due(NOW + LIFETIME - timedelta(seconds=1))
    later = NOW + LIFETIME
    served = read(log, later, cache)  # no reader waits: the kept figures, then a read
    assert served.errors_per_day[-2] == before.errors_per_day[-2]
    assert served.history_as_of == NOW
    assert cache.due(later)
    with log.read() as uow:
        cache.refresh(uow.session, later)
    assert not cache.due(later)
    after = read(log, later + timedelta(minutes=1), cache)
    assert after.errors_per_day[-2].refused == before.errors_per_day[-2].refused + 1
    assert after.errors_by_cause[REFUSED] == before.errors_by_cause[REFUSED] + 1
    assert after.history_as_of == later


def test_closed_days_older_than_the_stale_limit_are_read_before_answering(log):
    cache = HistoryCache()
    before = read(log, NOW - STALE_LIMIT, cache)
    add_events(log, event_row(NOW - timedelta(days=1), "error", "ProviderRejected: 409"))
    after = read(log, NOW, cache)
    assert after.errors_per_day[-2].refused == before.errors_per_day[-2].refused + 1
    assert after.history_as_of is None
    assert not cache.due(NOW)


def test_the_day_turning_drops_the_closed_days(log):
    cache = HistoryCache()
    evening = NOW.replace(hour=23, minute=58)
    before = read(log, evening, cache)
    add_events(log, event_row(NOW - timedelta(days=1), "error", "InvalidCalendarData: x"))
    midnight = evening + timedelta(minutes=3)  # 00:01, within the cache's lifetime
    after = read(log, midnight, cache)
    assert after.history_as_of is None
    assert after.errors_per_day[-1].day == midnight.date()
    # Yesterday (the former today) as a closed day now, and the day before with its new row.
    assert after.errors_per_day[-2] == before.errors_per_day[-1].__class__(
        NOW.date(), before.errors_per_day[-1].refused, before.errors_per_day[-1].unsent
    )
    assert after.errors_per_day[-3].unsent == before.errors_per_day[-2].unsent + 1
    assert after.events_processed_per_day[-2].count == before.events_processed_per_day[-1].count


def test_dropping_the_cache_reads_the_closed_days_at_the_next_call(log):
    cache = HistoryCache()
    read(log, NOW, cache)
    add_events(log, event_row(NOW - timedelta(days=2), "error", "ProviderRejected: 409"))
    cache.drop()
    after = read(log, NOW + timedelta(minutes=1), cache)
    assert after.history_as_of is None
    assert after.errors_per_day[-3].refused == 1


#: An error's cause is the name before its first colon: a provider error's is "refused".
CAUSES = {
    "ProviderRejected: PUT answered 403": REFUSED,
    "ProviderThrottled: retry after 30 s": REFUSED,
    "ProviderUnavailable: connection refused": REFUSED,
    "DeltaKeyExpired: 410": REFUSED,
    "ObjectExists:": REFUSED,
    "InvalidCalendarData: ProviderRejected: quoted": UNSENT,
    "providerrejected: not the same name": UNSENT,
    "ProviderRejectedLater: another name": UNSENT,
    "ProviderRejected": UNSENT,
    " ProviderRejected: leading space": UNSENT,
    "": UNSENT,
}


def test_the_errors_are_told_apart_by_cause_in_the_database(services):
    days = [NOW - timedelta(days=3), NOW]
    add_events(
        services,
        *(event_row(day, "error", error) for day in days for error in CAUSES),
    )
    refused = sum(1 for cause in CAUSES.values() if cause == REFUSED)
    unsent = len(CAUSES) - refused
    statements: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    with services.read() as uow:
        event.listen(services.engine, "before_cursor_execute", keep)
        try:
            history = read_history(uow.session, NOW)
        finally:
            event.remove(services.engine, "before_cursor_execute", keep)
        counted = health(uow.session, NOW)
    closed = history.errors[-3]
    assert (closed.day, closed.refused, closed.unsent) == (days[0].date(), refused, unsent)
    assert (counted.errors_per_day[-1].refused, counted.errors_per_day[-1].unsent) == (
        refused,
        unsent,
    )
    assert counted.errors_by_cause == {REFUSED: 2 * refused, UNSENT: 2 * unsent}
    # Counted there: each day's part of each statement answers counts, not rows.
    assert len(statements) == 3
    for statement in statements:
        for part in statement.split("UNION ALL"):
            chosen = part.split("FROM")[0]
            assert re.match(r"\s*\(?SELECT \d+, ", chosen), part
            assert "count(" in chosen, part
            assert "updated_at" not in chosen, part


def test_a_delta_keys_age_counts_from_the_synchronization_that_moved_to_it(services):
    ended = [NOW - timedelta(hours=hours) for hours in (4, 3, 2, 1)]
    moves = [(None, "k1"), ("k1", "k1"), ("k1", "k2"), ("k2", "k2")]
    with services.uow() as uow:
        for (before, after), at in zip(moves, ended, strict=True):
            uow.session.add(
                SynchronizationRow(
                    item_id=1,
                    started_at=at - timedelta(seconds=5),
                    finished_at=at,
                    mode="incremental",
                    delta_key_before=before,
                    delta_key_after=after,
                    outcome="succeeded",
                )
            )
        uow.items.set_delta_key(1, "k2")
        uow.commit()
    with services.read() as uow:
        assert delta_keys_issued_at(uow.session, [1]) == {1: ended[2]}
    with services.uow() as uow:
        uow.items.set_delta_key(1, None)  # a changed binding forgets its key
        uow.commit()
    with services.read() as uow:
        assert delta_keys_issued_at(uow.session, [1]) == {}
