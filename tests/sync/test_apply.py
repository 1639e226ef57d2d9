"""Pieces of applying calendar items that the end-to-end tests do not pin down alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationRepository
from calsync.sync import apply
from calsync.sync import reservations as reservation_service
from calsync.sync.apply import Applier, ApplyReport, object_reader
from calsync.sync.pull import synchronize
from calsync.worker.runner import request_sync
from tests.sync.calendars import book, claim, ics, reservations, room_settings, sync, vevent


def apply_pending(services) -> ApplyReport:
    """Apply Room A's pending calendar items, as a worker does after a read."""
    with services.uow() as uow:
        stored = uow.items.get("Room A")
    with (
        object_reader(services, stored, services.clock()) as reader,
        Applier(services, stored, reader) as applier,
    ):
        return applier.apply()


@pytest.mark.radicale
def test_a_batch_the_database_refuses_is_redone_one_item_at_a_time(
    make_services, room_calendar, monkeypatch
):
    services = make_services(room_settings(room_calendar), sync={"apply_batch": 2})
    provider = services.provider("dav")
    for day in range(2, 7):  # 10:00-11:00 in Berlin, 09:00-10:00 UTC
        book(provider, room_calendar, f"m{day}", day)
    synchronize(services, claim(services, request_sync(services, "Room A")))  # recorded only
    load_spans = ReservationRepository.holding_spans

    def then_a_walk_in(repository, item_id, window):
        """Someone books the room at the desk just after the applier looked at it."""
        spans = load_spans(repository, item_id, window)
        monkeypatch.setattr(ReservationRepository, "holding_spans", load_spans)
        walk_in = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
        reservation_service.create(services, "Room A", walk_in, walk_in + timedelta(hours=1), "")
        return spans

    monkeypatch.setattr(ReservationRepository, "holding_spans", then_a_walk_in)
    report = apply_pending(services)

    assert (report.applied, report.rejected, report.failed) == (4, 1, 0)
    mirrored = {r.uid: r.status.value for r in reservations(services) if r.uid.startswith("m")}
    assert mirrored == {
        "m2": "declined",  # the walk-in holds the room then: the database refused, then policy
        "m3": "confirmed",
        "m4": "confirmed",
        "m5": "confirmed",
        "m6": "confirmed",
    }
    with services.uow() as uow:
        items = uow.calendar_items.find(RecordFilter())
    assert sorted(row.status for row in items) == ["applied"] * 4 + ["rejected"]
    assert "conflict" in next(row.outcome for row in items if row.status == "rejected")


@pytest.mark.radicale
def test_a_booking_moved_in_calsync_while_its_batch_is_decided_is_not_moved_back(
    make_services, room_calendar, monkeypatch
):
    """The organizer renames the meeting in the calendar; while the applier decides that
    change, the front desk moves the booking in calsync. The batch, decided on the
    booking as it was, is refused and redone under the lock: the move (the newer
    revision) stands."""
    services = make_services(room_settings(room_calendar))
    provider = services.provider("dav")
    href = book(provider, room_calendar, "m2", 2)  # 2 December, 09:00-10:00 UTC
    sync(services)
    [held] = reservations(services)
    renamed = ics(vevent("m2", "20261202T100000", "20261202T110000", "Renamed"))
    provider.update(room_calendar, href, renamed, None)
    synchronize(services, claim(services, request_sync(services, "Room A")))  # recorded only
    moved_to = datetime(2026, 12, 2, 13, tzinfo=UTC)
    write = apply._Decided.write
    desk: list[bool] = []

    def desk_moves_it_first(decided, uow):
        if not desk:  # once: the redo writes as usual
            desk.append(True)
            reservation_service.update(services, held.id, moved_to, moved_to + timedelta(hours=1))
        write(decided, uow)

    monkeypatch.setattr(apply._Decided, "write", desk_moves_it_first)
    apply_pending(services)

    [final] = reservations(services)
    assert desk == [True]
    assert (final.start, final.sequence) == (moved_to, held.sequence + 1)
    assert final.status == ReservationStatus.confirmed


@pytest.mark.radicale
def test_the_planner_learns_of_a_bulk_load_once_enough_reservations_were_created(
    make_services, room_calendar, monkeypatch
):
    services = make_services(room_settings(room_calendar))
    if services.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's (SQLite plans without them)")
    provider = services.provider("dav")
    for day in range(2, 6):
        book(provider, room_calendar, f"m{day}", day)
    monkeypatch.setattr(apply, "STATISTICS_AFTER", 3)

    def last_analyze():
        with services.engine.connect() as connection:
            return connection.exec_driver_sql(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'reservations'"
            ).scalar()

    assert last_analyze() is None
    sync(services)
    assert last_analyze() is not None


@pytest.mark.radicale
def test_one_object_recorded_twice_is_booked_once_when_its_batches_follow_each_other(
    make_services, room_calendar
):
    services = make_services(room_settings(room_calendar), sync={"apply_batch": 1})
    provider = services.provider("dav")
    book(provider, room_calendar, "m2", 2)
    for _ in range(2):  # two full reads, nothing applied in between: two calendar items
        event_id = claim(services, request_sync(services, "Room A", full=True))
        synchronize(services, event_id, full=True)
    report = apply_pending(services)

    assert [r.uid for r in reservations(services)] == ["m2"]  # found again, not booked twice
    assert report.applied + report.skipped == 2
    assert report.failed == report.rejected == 0
