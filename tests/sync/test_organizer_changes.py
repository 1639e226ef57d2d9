"""calsync never swallows an organizer's change, against a real Radicale, on SQLite and
PostgreSQL.

A write calsync makes into an object (a room answer, an edit, a move of its own booking)
is based on the version it last applied. When the calendar holds another version, that
change is read and applied first; the binding's conflict rule says whether calsync's own
pending change is still sent. Nothing is silently overwritten."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.store.tables import ReservationRow
from calsync.sync import reservations as reservation_service
from tests.sync.calendars import (
    drain,
    ics,
    reservations,
    reserve,
    room_settings,
    sync,
    sync_run,
    vevent,
)

pytestmark = pytest.mark.radicale


@pytest.fixture
def room(make_services, room_calendar):
    services = make_services(room_settings(room_calendar))
    return services, services.provider("dav"), room_calendar


@pytest.fixture
def room_where_calsync_wins(make_services, room_calendar):
    services = make_services(room_settings(room_calendar, conflict_resolution="calsync"))
    return services, services.provider("dav"), room_calendar


def _entry(provider, calendar, uid: str) -> bytes:
    [entry] = [
        c
        for c in provider.fetch_changes(calendar, None).changes
        if f"UID:{uid}".encode() in (c.data or b"")
    ]
    return (entry.data or b"").replace(b"\r\n ", b"")


def _events(services, action: str):
    with services.uow() as uow:
        return uow.events.find(RecordFilter(action=action))


def _move(provider, calendar, provider_id: str, uid: str, start: str, end: str, **kw) -> None:
    provider.update(calendar, provider_id, ics(vevent(uid, start, end, **kw)), None)


def test_a_room_answer_never_swallows_the_organizers_move(room):
    services, provider, calendar = room
    href = provider.create(
        calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000"))
    ).provider_id
    sync(services)  # the room's answer (ACCEPTED) waits in the outbox
    _move(provider, calendar, href, "m1", "20261203T140000", "20261203T150000", sequence=1)
    drain(services)  # the answer finds the organizer's move: it is applied first
    [reservation] = reservations(services)
    assert reservation.start == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert b"PARTSTAT=ACCEPTED" in _entry(provider, calendar, "m1")
    assert b"DTSTART;TZID=Europe/Berlin:20261203T140000" in _entry(provider, calendar, "m1")
    for full in (False, True):
        sync(services, full=full)
        [reservation] = reservations(services)
        assert reservation.start == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    first_answer = min(_events(services, "respond"), key=lambda e: e.id)
    assert first_answer.state == "processed"
    assert first_answer.response.startswith("superseded:")


def test_a_move_onto_a_taken_slot_is_decided_before_the_room_answers(room):
    services, provider, calendar = room
    href = provider.create(
        calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000"))
    ).provider_id
    provider.create(calendar, "m2", ics(vevent("m2", "20261203T140000", "20261203T150000")))
    sync(services)
    _move(provider, calendar, href, "m1", "20261203T143000", "20261203T153000", sequence=1)
    drain(services)
    by_uid = {r.uid: r for r in reservations(services)}
    assert by_uid["m1"].status == ReservationStatus.declined
    assert by_uid["m2"].status == ReservationStatus.confirmed
    assert b"PARTSTAT=DECLINED" in _entry(provider, calendar, "m1")
    assert b"PARTSTAT=ACCEPTED" in _entry(provider, calendar, "m2")


def test_a_full_synchronization_repairs_a_reservation_whatever_version_it_recorded(room):
    services, provider, calendar = room
    provider.create(calendar, "m1", ics(vevent("m1", "20261203T100000", "20261203T110000")))
    sync(services)
    drain(services)
    with services.uow() as uow:  # a divergence behind a version calsync believes it holds
        row = uow.session.query(ReservationRow).one()
        row.start_at = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
        row.end_at = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
        uow.commit()
    sync(services)
    assert reservations(services)[0].start == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    sync(services, full=True)
    [reservation] = reservations(services)
    assert reservation.start == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert reservation.end == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _moved_in_calsync(services, reservation_id: str) -> None:
    """The booking moved in calsync to 11:00-12:00 UTC on 5 December."""
    reservation_service.update(
        services,
        reservation_id,
        start=datetime(2026, 12, 5, 11, tzinfo=UTC),
        end=datetime(2026, 12, 5, 12, tzinfo=UTC),
    )


def _booked_then_edited_in_the_calendar(services, provider, calendar):
    """A booking made in calsync and sent; then someone moves it in the calendar."""
    booked = reserve(services, "Board")
    drain(services)
    [sent] = reservations(services)
    _move(
        provider,
        calendar,
        sent.provider_id,
        booked.uid,
        "20261205T150000",
        "20261205T160000",
        summary="Board (moved in the calendar)",
        sequence=5,
    )
    return sent


def test_by_default_the_calendars_change_wins_over_a_pending_change_made_in_calsync(room):
    services, provider, calendar = room
    booked = _booked_then_edited_in_the_calendar(services, provider, calendar)
    _moved_in_calsync(services, booked.id)
    drain(services)
    [reservation] = reservations(services)
    assert reservation.start == datetime(2026, 12, 5, 14, 0, tzinfo=UTC)  # 15:00 in Berlin
    assert b"DTSTART;TZID=Europe/Berlin:20261205T150000" in _entry(provider, calendar, booked.uid)
    [update] = _events(services, "update")
    assert update.state == "processed"
    assert "conflict_resolution = calendar" in update.response
    with services.uow() as uow:
        [item] = uow.calendar_items.find(RecordFilter(status="applied"))
    assert item.event_id == update.id
    sync(services)  # and nothing is left to read
    assert reservations(services)[0].start == datetime(2026, 12, 5, 14, 0, tzinfo=UTC)


def test_with_calsync_winning_its_pending_change_is_sent_over_the_calendars(
    room_where_calsync_wins,
):
    services, provider, calendar = room_where_calsync_wins
    booked = _booked_then_edited_in_the_calendar(services, provider, calendar)
    _moved_in_calsync(services, booked.id)
    drain(services)
    [update] = _events(services, "update")
    assert update.state == "processed"
    assert "conflict_resolution = calsync" in update.response
    assert b"DTSTART;TZID=Europe/Berlin:20261205T120000" in _entry(provider, calendar, booked.uid)
    with services.uow() as uow:
        [item] = uow.calendar_items.find(RecordFilter(item_id=None))
    assert item.status == "skipped"
    assert "conflict" in item.outcome
    sync(services)
    [reservation] = reservations(services)
    assert reservation.start == datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


def test_a_move_of_a_booking_deleted_in_the_calendar_is_superseded_not_an_error(room):
    services, provider, calendar = room
    reserve(services, "Board")
    drain(services)
    [sent] = reservations(services)
    provider.delete(calendar, sent.provider_id, None)
    _moved_in_calsync(services, sent.id)
    drain(services)
    [update] = _events(services, "update")
    assert update.state == "processed"
    assert update.error == ""
    assert update.response.startswith("superseded:")
    [reservation] = reservations(services)
    assert reservation.status == ReservationStatus.cancelled
    assert sync_run(services).error == ""


def test_a_cancel_in_calsync_of_a_booking_moved_in_the_calendar_keeps_the_calendars_move(room):
    services, provider, calendar = room
    booked = _booked_then_edited_in_the_calendar(services, provider, calendar)
    reservation_service.cancel(services, booked.id)
    drain(services)
    [delete] = _events(services, "delete")
    assert delete.state == "processed"
    assert delete.response.startswith("superseded:")
    assert b"20261205T150000" in _entry(provider, calendar, booked.uid)  # not deleted
    [reservation] = reservations(services)
    assert reservation.start == datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    assert reservation.status == ReservationStatus.confirmed


def test_an_occurrence_edit_in_someone_elses_series_never_absorbs_their_change(room):
    services, provider, calendar = room
    series = vevent(
        "s1", "20261207T100000", "20261207T110000", extra="RRULE:FREQ=DAILY;COUNT=3\r\n"
    )
    href = provider.create(calendar, "s1", ics(series)).provider_id
    sync(services)
    drain(services)
    third = max(reservations(services), key=lambda r: r.start)
    reservation_service.cancel(services, third.id)  # an EXDATE waits in the outbox
    renamed = vevent(
        "s1",
        "20261207T100000",
        "20261207T110000",
        summary="Renamed by the organizer",
        extra="RRULE:FREQ=DAILY;COUNT=3\r\n",
        sequence=1,
    )
    provider.update(calendar, href, ics(renamed), None)
    drain(services)
    sync(services, full=True)
    subjects = {r.subject for r in reservations(services) if r.status != "cancelled"}
    assert subjects == {"Renamed by the organizer"}
