"""One behaviour suite, every calendar service: CalDAV on a real Radicale and Google
Calendar on its emulator, through the same sync, decision and outbound code. Each test
says what a room's calendar and its reservations show after people book, move and
cancel on either side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.sync import reservations as reservation_service
from tests.sync.behaviour.sides import CalDAVSide, GoogleSide, berlin
from tests.sync.calendars import drain, reservations, sync

pytestmark = pytest.mark.radicale


@pytest.fixture(params=["caldav", "google"])
def side(request, radicale, room_calendar):
    if request.param == "caldav":
        yield CalDAVSide(radicale.url, room_calendar)
        return
    from tests.providers.google_emulator import GoogleCalendarEmulator

    with GoogleCalendarEmulator() as emulator:
        yield GoogleSide(emulator)


@pytest.fixture
def services(side, database_url, clock, tmp_path):
    settings = parse(
        {
            "database": {"url": database_url},
            "sync": {"backoff_seconds": 1.0, "max_attempts": 3},
            "connections": {"calendar": side.connection(tmp_path)},
            "items": [
                {
                    "name": "Room A",
                    "time_zone": "Europe/Berlin",
                    "binding": {"connection": "calendar", **side.binding()},
                }
            ],
        }
    )
    made = start(settings, clock)
    yield made
    made.close()


def _live(services):
    return sorted(
        (r for r in reservations(services) if r.status != ReservationStatus.cancelled),
        key=lambda r: r.start,
    )


def _answers(side) -> dict[str, str]:
    return {uid: answer for (uid, _), (_, _, answer) in side.held().items()}


def test_a_meeting_booked_in_the_calendar_is_reserved_and_the_room_accepts(side, services):
    side.meeting("m1", 3, 10)
    sync(services)
    [reservation] = _live(services)
    assert (reservation.start, reservation.status) == (berlin(3, 10), ReservationStatus.confirmed)
    drain(services)
    assert _answers(side) == {"m1": "ACCEPTED"}


def test_a_clashing_meeting_is_declined_in_the_calendar(side, services):
    side.meeting("m1", 3, 10)
    sync(services)
    side.meeting("m2", 3, 10)
    sync(services)
    drain(services)
    assert _answers(side) == {"m1": "ACCEPTED", "m2": "DECLINED"}
    statuses = {r.uid: r.status for r in reservations(services)}
    assert statuses == {"m1": ReservationStatus.confirmed, "m2": ReservationStatus.declined}


def test_a_move_and_a_deletion_in_the_calendar_reach_the_reservations(side, services):
    side.meeting("m1", 3, 10)
    side.meeting("m2", 4, 10)
    sync(services)
    drain(services)
    side.move("m1", 3, 14)
    side.delete("m2")
    sync(services)
    [moved] = _live(services)
    assert (moved.uid, moved.start) == ("m1", berlin(3, 14))
    drain(services)
    assert _answers(side) == {"m1": "ACCEPTED"}


def test_an_occurrence_cancelled_in_the_calendar_cancels_its_reservation(side, services):
    side.meeting("s1", 7, 10, count=3)
    sync(services)
    assert [r.start for r in _live(services)] == [berlin(d, 10) for d in (7, 8, 9)]
    side.cancel_occurrence("s1", berlin(8, 10))
    sync(services)
    assert [r.start for r in _live(services)] == [berlin(7, 10), berlin(9, 10)]


def test_an_occurrence_cancelled_in_calsync_leaves_the_calendar(side, services):
    side.meeting("s1", 7, 10, count=3)
    sync(services)
    drain(services)
    second = _live(services)[1]
    reservation_service.cancel(services, second.id)
    drain(services)
    held = side.held()
    assert sorted(start for start, _, _ in held.values()) == [berlin(7, 10), berlin(9, 10)]
    sync(services)
    assert [r.start for r in _live(services)] == [berlin(7, 10), berlin(9, 10)]


def test_a_booking_made_in_calsync_is_created_moved_and_cancelled_in_the_calendar(side, services):
    booked = reservation_service.create(
        services, "Room A", berlin(5, 9), berlin(5, 10), "Board meeting"
    )
    drain(services)
    assert [(s, e) for s, e, _ in side.held().values()] == [(berlin(5, 9), berlin(5, 10))]
    sync(services)  # its echo changes nothing
    [reservation] = _live(services)
    assert (reservation.id, reservation.start) == (booked.id, berlin(5, 9))
    reservation_service.update(services, booked.id, start=berlin(5, 15), end=berlin(5, 16))
    drain(services)
    assert [(s, e) for s, e, _ in side.held().values()] == [(berlin(5, 15), berlin(5, 16))]
    reservation_service.cancel(services, booked.id)
    drain(services)
    assert side.held() == {}
    sync(services)
    assert _live(services) == []
    with services.read() as uow:
        failed = uow.events.find(RecordFilter(status="error", limit=100))
    assert failed == []


def test_an_expired_delta_key_lists_the_calendar_again_and_sweeps_what_went_in_the_gap(
    side, services
):
    if side.kind == "caldav":
        pytest.skip("Radicale's expired sync-tokens: tests/sync/test_pull.py")
    for n, day in enumerate((3, 4, 7, 8), start=1):
        side.meeting(f"m{n}", day, 10)
    sync(services)
    side.delete("m2")
    side.expire_delta_keys()
    synchronization = sync(services)
    assert synchronization.mode == "full"
    assert [r.uid for r in _live(services)] == ["m1", "m3", "m4"]


def test_the_clock_of_the_suite(clock):
    assert clock() == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert berlin(3, 10) - clock() > timedelta(days=1)
