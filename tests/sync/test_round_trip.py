"""End to end against a real Radicale, on SQLite and PostgreSQL: each direction of
create, update and cancel, series with exceptions, and echo suppression."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.domain.reservations import Origin, ReservationStatus
from calsync.store.records import RecordFilter
from calsync.sync import reservations as reservation_service
from tests.sync.calendars import drain, ics, reservations, reserve, room_settings, sync, vevent

pytestmark = pytest.mark.radicale


@pytest.fixture
def room(make_services, room_calendar):
    services = make_services(room_settings(room_calendar))
    return services, services.provider("dav"), room_calendar


def test_a_meeting_booked_in_the_calendar_becomes_a_confirmed_reservation(room):
    services, provider, calendar = room
    provider.create(
        calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000", "Planning"))
    )
    sync(services)
    [reservation] = reservations(services)
    assert reservation.status == ReservationStatus.confirmed
    assert reservation.origin == Origin.calendar
    assert reservation.subject == "Planning"
    assert reservation.start == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_the_room_accepts_in_the_calendar_and_its_own_answer_is_not_read_back_as_a_change(room):
    services, provider, calendar = room
    provider.create(calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000")))
    sync(services)
    drain(services)  # the respond event writes PARTSTAT=ACCEPTED
    [entry] = provider.fetch_changes(calendar, None).changes
    assert b"PARTSTAT=ACCEPTED" in (entry.data or b"").replace(b"\r\n ", b"")
    second = sync(services)
    with services.uow() as uow:
        items = uow.calendar_items.find(RecordFilter(synchronization_id=second.synchronization_id))
    assert [i.status for i in items] == ["skipped"]
    assert items[0].outcome == "echo of our own write"


def test_a_moved_meeting_moves_its_reservation_and_a_deleted_one_cancels_it(room):
    services, provider, calendar = room
    created = provider.create(
        calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000"))
    )
    provider.create(calendar, "m2", ics(vevent("m2", "20261204T100000", "20261204T110000")))
    sync(services)
    provider.update(
        calendar,
        created.provider_id,
        ics(vevent("m1", "20261203T140000", "20261203T150000", sequence=1)),
        None,
    )
    [m2] = [
        c for c in provider.fetch_changes(calendar, None).changes if b"UID:m2" in (c.data or b"")
    ]
    provider.delete(calendar, m2.provider_id, None)
    sync(services)
    by_uid = {r.uid: r for r in reservations(services)}
    assert by_uid["m1"].start == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert by_uid["m1"].status == ReservationStatus.confirmed
    assert by_uid["m2"].status == ReservationStatus.cancelled


def test_a_clash_in_the_calendar_is_declined_and_the_room_says_so(room):
    services, provider, calendar = room
    provider.create(calendar, "first", ics(vevent("first", "20261203T100000", "20261203T110000")))
    sync(services)
    provider.create(calendar, "clash", ics(vevent("clash", "20261203T103000", "20261203T113000")))
    sync(services)
    by_uid = {r.uid: r for r in reservations(services)}
    assert by_uid["clash"].status == ReservationStatus.declined
    assert "conflict" in by_uid["clash"].reason
    drain(services)
    clash = next(
        c for c in provider.fetch_changes(calendar, None).changes if b"UID:clash" in (c.data or b"")
    )
    assert b"PARTSTAT=DECLINED" in (clash.data or b"").replace(b"\r\n ", b"")


def test_a_weekly_series_with_a_moved_and_a_cancelled_occurrence(room):
    services, provider, calendar = room
    master = vevent(
        "series",
        "20261207T090000",
        "20261207T093000",
        "Standup",
        extra="RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID=Europe/Berlin:20261221T090000\r\n",
    )
    moved = vevent(
        "series",
        "20261215T100000",
        "20261215T103000",
        "Standup (moved)",
        extra="RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000\r\n",
    )
    cancelled = vevent(
        "series",
        "20261228T090000",
        "20261228T093000",
        "Standup",
        extra="RECURRENCE-ID;TZID=Europe/Berlin:20261228T090000\r\nSTATUS:CANCELLED\r\n",
    )
    provider.create(calendar, "series", ics(master, moved, cancelled))
    sync(services)
    live = sorted(reservations(services, "confirmed"), key=lambda r: r.start)
    assert [r.start.date().isoformat() for r in live] == [
        "2026-12-07",
        "2026-12-15",
        "2027-01-04",
        "2027-01-11",
    ]
    assert live[1].subject == "Standup (moved)"
    assert all(r.uid == "series" and r.recurrence_id is not None for r in live)


def test_a_reservation_made_in_calsync_lands_in_the_calendar_once(room):
    services, provider, calendar = room
    made = reserve(services, "Interview")
    drain(services)
    listing = provider.fetch_changes(calendar, None).changes
    assert len(listing) == 1
    assert b"SUMMARY:Interview" in (listing[0].data or b"")
    sync(services)
    [reservation] = reservations(services)
    assert reservation.id == made.id
    assert reservation.status == ReservationStatus.confirmed


def test_a_reservation_updated_and_cancelled_in_calsync_follows_in_the_calendar(room):
    services, provider, calendar = room
    made = reserve(services, "Interview")
    drain(services)
    reservation_service.update(services, made.id, subject="Final interview")
    drain(services)
    [entry] = provider.fetch_changes(calendar, None).changes
    assert b"SUMMARY:Final interview" in (entry.data or b"")
    reservation_service.cancel(services, made.id)
    drain(services)
    assert provider.fetch_changes(calendar, None).changes == ()
    sync(services)
    assert [r.status for r in reservations(services)] == [ReservationStatus.cancelled]


def test_dry_run_builds_the_provider_payload_and_sends_nothing(make_services, room_calendar):
    services = make_services(room_settings(room_calendar, dry_run=True))
    reserve(services, "Dry")
    drain(services)
    with services.uow() as uow:
        [event] = uow.events.find(RecordFilter(action="create"))
        assert event.state == "processed"
        assert "SUMMARY:Dry" in event.provider_payload
        assert "dry run" in event.response
    assert services.provider("dav").fetch_changes(room_calendar, None).changes == ()


def test_cancelling_one_occurrence_in_calsync_keeps_the_rest_of_the_series(room):
    services, provider, calendar = room
    series = vevent(
        "series",
        "20261207T090000",
        "20261207T093000",
        "Standup",
        extra="RRULE:FREQ=WEEKLY;COUNT=4\r\n",
    )
    provider.create(calendar, "series", ics(series))
    sync(services)
    drain(services)
    second = sorted(reservations(services), key=lambda r: r.start)[1]
    reservation_service.cancel(services, second.id)
    drain(services)
    [entry] = provider.fetch_changes(calendar, None).changes
    assert b"RRULE:FREQ=WEEKLY;COUNT=4" in (entry.data or b"")
    assert b"EXDATE" in (entry.data or b"")
    sync(services)  # reading our own edit back changes nothing
    statuses = [r.status for r in sorted(reservations(services), key=lambda r: r.start)]
    assert statuses == ["confirmed", "cancelled", "confirmed", "confirmed"]


def test_moving_someone_elses_meeting_in_calsync_keeps_its_attendees(room):
    services, provider, calendar = room
    provider.create(
        calendar,
        "m1",
        ics(
            vevent(
                "m1",
                "20261203T100000",
                "20261203T110000",
                extra="ATTENDEE:mailto:bob@example.com\r\n",
            )
        ),
    )
    sync(services)
    [reservation] = reservations(services)
    reservation_service.update(
        services,
        reservation.id,
        start=datetime(2026, 12, 3, 13, tzinfo=UTC),
        end=datetime(2026, 12, 3, 14, tzinfo=UTC),
    )
    drain(services)
    [entry] = provider.fetch_changes(calendar, None).changes
    text = (entry.data or b"").replace(b"\r\n ", b"")
    assert b"bob@example.com" in text
    assert b"alice@example.com" in text
    sync(services)
    [after] = reservations(services)
    assert after.start == datetime(2026, 12, 3, 13, tzinfo=UTC)
    assert after.status == ReservationStatus.confirmed


def test_a_slot_given_up_and_taken_in_one_synchronization_is_booked(room):
    services, provider, calendar = room
    moved = provider.create(calendar, "a", ics(vevent("a", "20261203T100000", "20261203T110000")))
    sync(services)
    provider.update(
        calendar,
        moved.provider_id,
        ics(vevent("a", "20261203T160000", "20261203T170000", sequence=1)),
        None,
    )
    later = vevent("c", "20261203T100000", "20261203T110000").replace(
        "DTSTAMP:20261101T120000Z", "DTSTAMP:20261102T120000Z"
    )
    provider.create(calendar, "c", ics(later))
    sync(services)
    by_uid = {r.uid: r for r in reservations(services)}
    assert by_uid["a"].start == datetime(2026, 12, 3, 15, tzinfo=UTC)
    assert by_uid["c"].status == ReservationStatus.confirmed
    with services.uow() as uow:
        assert uow.calendar_items.find(RecordFilter(status="failed")) == []
