"""Check-in on every calendar service: CalDAV on Radicale and Google Calendar on its
emulator. A no-show release frees the room and a check-out shortens the booking through
the seam's "cancel" and "shorten", never through provider-specific code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.sync import check_in as check_in_service
from calsync.sync import reservations as reservation_service
from tests.sync.behaviour.sides import berlin
from tests.sync.behaviour.test_behaviour import side  # noqa: F401 - the fixture
from tests.sync.calendars import drain, reservations, sync

pytestmark = pytest.mark.radicale


@pytest.fixture
def services(side, database_url, clock, tmp_path):  # noqa: F811 - the fixture
    settings = parse(
        {
            "database": {"url": database_url},
            "sync": {"backoff_seconds": 1.0, "max_attempts": 3},
            "connections": {"calendar": side.connection(tmp_path)},
            "policies": {"defaults": {"check_in_required": True, "no_show_after_minutes": 10}},
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


def _spans(side) -> list[tuple]:  # noqa: F811 - the fixture
    return sorted((start, end) for start, end, _ in side.held().values())


def _no_errors(services) -> None:
    with services.read() as uow:
        failed = uow.events.find(RecordFilter(status="error", limit=100))
    assert [(e.action, e.error) for e in failed] == []


def test_a_no_show_booking_leaves_the_calendar_and_its_slot_is_booked_again(
    side,  # noqa: F811 - the fixture
    services,
    clock,
):
    booked = reservation_service.create(services, "Room A", berlin(5, 9), berlin(5, 10), "Board")
    drain(services)
    assert _spans(side) == [(berlin(5, 9), berlin(5, 10))]
    clock.now = berlin(5, 9) + timedelta(minutes=10)
    assert check_in_service.release_no_shows(services).released == [booked.id]
    drain(services)
    assert side.held() == {}
    side.meeting("next", 5, 9)
    sync(services)
    live = [r for r in reservations(services) if r.status != ReservationStatus.cancelled]
    assert [(r.uid, r.status) for r in live] == [("next", ReservationStatus.confirmed)]
    _no_errors(services)


def test_someones_no_show_meeting_leaves_the_room_as_a_cancellation_does(
    side,  # noqa: F811 - the fixture
    services,
    clock,
):
    side.meeting("m1", 5, 9)
    side.meeting("m2", 5, 11)
    sync(services)
    drain(services)
    clock.now = berlin(5, 9) + timedelta(minutes=30)
    [released] = check_in_service.release_no_shows(services).released
    drain(services)
    assert _spans(side) == [(berlin(5, 11), berlin(5, 12))]
    sync(services)
    by_uid = {r.uid: r for r in reservations(services)}
    assert (by_uid["m1"].id, by_uid["m1"].status) == (released, ReservationStatus.cancelled)
    assert by_uid["m2"].status == ReservationStatus.confirmed
    _no_errors(services)


def test_a_check_out_shortens_the_booking_in_the_calendar(
    side,  # noqa: F811 - the fixture
    services,
    clock,
):
    booked = reservation_service.create(services, "Room A", berlin(5, 9), berlin(5, 10), "Board")
    side.meeting("m1", 5, 14)
    sync(services)
    drain(services)
    [meeting] = [r for r in reservations(services) if r.uid == "m1"]
    clock.now = berlin(5, 9)
    check_in_service.check_in(services, booked.id)
    clock.now = berlin(5, 9) + timedelta(minutes=35)
    check_in_service.check_out(services, booked.id)
    clock.now = berlin(5, 14)
    check_in_service.check_in(services, meeting.id)
    clock.now = berlin(5, 14) + timedelta(minutes=20, seconds=5)
    check_in_service.check_out(services, meeting.id)
    drain(services)
    assert _spans(side) == [
        (berlin(5, 9), berlin(5, 9) + timedelta(minutes=35)),
        (berlin(5, 14), berlin(5, 14) + timedelta(minutes=21)),
    ]
    sync(services)
    ends = sorted((r.end, r.holds_item) for r in reservations(services))  # read back
    assert ends == [
        (berlin(5, 9) + timedelta(minutes=35), True),
        (berlin(5, 14) + timedelta(minutes=21), True),
    ]
    _no_errors(services)
