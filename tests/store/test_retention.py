"""Retention on SQLite and PostgreSQL: what `purge` deletes, what it always keeps, and
that it deletes in small transactions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.events import Action
from calsync.store.records import new_event
from calsync.store.retention import PurgeReport, purge, purge_due
from calsync.store.tables import CalendarItemRow, EventRow, SynchronizationRow
from calsync.worker.scheduler import run_forever

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def make(database_url):
    made = []

    def services(**retention: int):
        built = start(
            parse(
                {
                    "database": {"url": database_url},
                    "retention": retention,
                    "items": [{"name": "Room A"}, {"name": "Room B"}],
                }
            )
        )
        made.append(built)
        return built

    yield services
    for built in made:
        built.close()


def record(
    services,
    days_ago: float,
    state: str = "processed",
    items: tuple[str, ...] = ("applied",),
    item: str = "Room A",
    outcome: str = "succeeded",
    action: Action = Action.read,
    with_event: bool = True,
    now: datetime = NOW,
) -> tuple[int, int | None]:
    """One read as the worker leaves it: its synchronization, its event (in `state`) and
    one calendar item per status in `items`; (synchronization id, event id)."""
    when = now - timedelta(days=days_ago)
    with services.uow() as uow:
        item_id = uow.items.get(item).id
        sync = SynchronizationRow(
            item_id=item_id, started_at=when, finished_at=when, mode="incremental",
            outcome=outcome,
        )  # fmt: skip
        uow.session.add(sync)
        uow.session.flush()
        if not with_event:
            uow.commit()
            return sync.id, None
        row = EventRow(**new_event(item_id, action, when, {"full": False}, None, sync.id))
        row.state, row.response = state, "x" * 1000
        uow.session.add(row)
        uow.session.flush()
        uow.calendar_items.add_many(
            [
                {
                    "item_id": item_id, "event_id": row.id, "synchronization_id": sync.id,
                    "kind": "new_reservation", "status": status, "provider_id": f"/a/{n}.ics",
                    "provider_version": None, "provider_payload": "BEGIN:VCALENDAR",
                    "outcome": "", "error": "", "created_at": when, "applied_at": None,
                }
                for n, status in enumerate(items)
            ]
        )  # fmt: skip
        uow.commit()
        return sync.id, row.id


def remaining(services) -> dict[str, set[int]]:
    with services.uow() as uow:
        return {
            "events": set(uow.session.scalars(select(EventRow.id))),
            "calendar_items": set(uow.session.scalars(select(CalendarItemRow.event_id))),
            "synchronizations": set(uow.session.scalars(select(SynchronizationRow.id))),
        }


def test_processed_events_and_their_calendar_items_go_after_their_days(make):
    services = make(processed_days=30)
    _, old = record(services, days_ago=31, items=("applied", "skipped"))
    _, young = record(services, days_ago=29)
    report = purge(services, NOW)
    assert (report.events, report.calendar_items) == (1, 2)
    left = remaining(services)
    assert left["events"] == {young}
    assert left["calendar_items"] == {young}
    assert old not in left["events"]


def test_events_in_error_are_kept_longer_than_processed_ones(make):
    services = make(processed_days=30, error_days=90)
    _, error = record(services, days_ago=60, state="error", items=())
    _, failed_item = record(services, days_ago=60, items=("applied", "failed"))
    _, old_error = record(services, days_ago=91, state="error", items=())
    purge(services, NOW)
    assert remaining(services)["events"] == {error, failed_item}
    assert old_error not in remaining(services)["events"]


@pytest.mark.parametrize("state", ["new", "processing"])
def test_events_waiting_or_running_are_never_deleted(make, state):
    services = make(processed_days=1, error_days=1)
    _, waiting = record(services, days_ago=400, state=state, items=())
    assert purge(services, NOW, dry_run=True).events == 0
    assert purge(services, NOW).events == 0
    assert remaining(services)["events"] == {waiting}


@pytest.mark.parametrize("status", ["pending", "awaiting_approval"])
def test_an_event_whose_calendar_item_still_waits_is_kept_with_all_its_items(make, status):
    services = make(processed_days=1)
    _, event_id = record(services, days_ago=400, items=("applied", status))
    assert purge(services, NOW, dry_run=True).events == 0
    report = purge(services, NOW)
    assert (report.events, report.calendar_items) == (0, 0)
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(CalendarItemRow)) == 2
    assert event_id in remaining(services)["events"]


def test_zero_days_keeps_forever(make):
    services = make(processed_days=0, error_days=0, synchronization_days=0)
    record(services, days_ago=5000)
    record(services, days_ago=5000, state="error")
    assert purge(services, NOW) == PurgeReport()
    assert len(remaining(services)["events"]) == 2


def test_synchronizations_go_after_their_days_except_each_items_newest(make):
    services = make(processed_days=10, synchronization_days=365)
    old_a, _ = record(services, days_ago=400)
    newest_a, _ = record(services, days_ago=380)  # Room A was not read since
    old_b, _ = record(services, days_ago=400, item="Room B")
    young_b, _ = record(services, days_ago=5, item="Room B")
    report = purge(services, NOW)
    assert report.synchronizations == 2
    assert remaining(services)["synchronizations"] == {newest_a, young_b}
    assert {old_a, old_b}.isdisjoint(remaining(services)["synchronizations"])


def test_a_synchronization_that_a_kept_event_points_to_is_kept(make):
    services = make(processed_days=30, error_days=0, synchronization_days=30)
    kept_by_error, error_event = record(services, days_ago=400, state="error")
    record(services, days_ago=1)  # the item's newest
    assert purge(services, NOW, dry_run=True).synchronizations == 0
    assert purge(services, NOW).synchronizations == 0
    assert kept_by_error in remaining(services)["synchronizations"]
    assert error_event in remaining(services)["events"]


def test_a_running_synchronization_is_never_deleted(make):
    services = make(synchronization_days=1)
    running, _ = record(services, days_ago=400, outcome="running", with_event=False)
    record(services, days_ago=0.5)
    assert purge(services, NOW, dry_run=True).synchronizations == 0
    purge(services, NOW)
    assert running in remaining(services)["synchronizations"]


def test_a_dry_run_deletes_nothing_and_counts_what_the_purge_then_deletes(make):
    services = make(processed_days=30, error_days=90, synchronization_days=60)
    record(services, days_ago=100, state="error", items=())
    for days in (100, 95, 70, 40, 20, 1):
        record(services, days_ago=days, items=("applied",) * 3)
    before = remaining(services)
    dry = purge(services, NOW, dry_run=True)
    assert remaining(services) == before
    done = purge(services, NOW)
    assert (dry.events, dry.calendar_items, dry.synchronizations) == (5, 12, 4)
    assert (done.events, done.calendar_items, done.synchronizations) == (5, 12, 4)
    assert dry.dry_run
    assert not done.dry_run


def test_an_event_put_back_in_the_queue_after_it_was_read_is_not_deleted(make):
    """Each DELETE repeats the condition it was chosen by: an admin's reprocess between
    the purge's read and its delete wins."""
    services = make(error_days=30)
    _, event_id = record(services, days_ago=100, state="error", items=())
    engine = services.engine

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def reprocess_first(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM EVENTS"):
            cursor.execute(
                "UPDATE events SET state = 'new', updated_at = "
                + ("'2027-03-01 12:00:00.000000'" if engine.dialect.name == "sqlite" else "now()")
            )
        return statement, parameters

    try:
        assert purge(services, NOW).events == 0
    finally:
        event.remove(engine, "before_cursor_execute", reprocess_first)
    assert remaining(services)["events"] == {event_id}


def test_a_purge_deletes_at_most_a_batch_of_rows_per_transaction(make):
    services = make(processed_days=1, synchronization_days=1)
    for days in range(10, 30):
        record(services, days_ago=days, items=("applied",) * 2)
    record(services, days_ago=2, items=("applied",) * 7)  # more items than a batch
    record(services, days_ago=0.1)
    deleted_in_transaction: list[int] = []
    rows = [0]

    @event.listens_for(services.engine, "after_cursor_execute")
    def count(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE"):
            rows[0] += cursor.rowcount

    @event.listens_for(services.engine, "commit")
    def close(connection):
        deleted_in_transaction.append(rows[0])
        rows[0] = 0

    try:
        report = purge(services, NOW, batch=5)
    finally:
        event.remove(services.engine, "after_cursor_execute", count)
        event.remove(services.engine, "commit", close)
    assert (report.events, report.calendar_items, report.synchronizations) == (21, 47, 21)
    assert max(deleted_in_transaction) <= 5
    assert sum(deleted_in_transaction) == 21 + 47 + 21
    assert remaining(services)["events"] == {max(remaining(services)["events"])}


def test_the_worker_purges_once_an_interval(make):
    services = make(interval_minutes=60)
    assert purge_due(services, None, NOW)
    assert not purge_due(services, NOW - timedelta(minutes=59), NOW)
    assert purge_due(services, NOW - timedelta(minutes=60), NOW)


def test_a_running_worker_purges_what_retention_no_longer_keeps(make):
    services = make(processed_days=1)
    now = datetime.now(UTC)
    _, old = record(services, days_ago=5, now=now)
    _, recent = record(services, days_ago=0.1, now=now)
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(services, 0.05, stop))
    worker.start()
    try:
        for _ in range(100):
            if old not in remaining(services)["events"]:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        worker.join(30)
    assert remaining(services)["events"] == {recent}
