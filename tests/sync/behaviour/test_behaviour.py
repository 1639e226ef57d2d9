"""One behaviour suite, every calendar service: CalDAV on a real Radicale and Google
Calendar on its emulator, through the same sync, decision and outbound code. Each test
says what a room's calendar and its reservations show after people book, move and
cancel on either side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.events import EventState
from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.sync import reservations as reservation_service
from calsync.worker.runner import run_once
from tests.conftest import Killed
from tests.providers.gateway import Gateway
from tests.sync.behaviour.sides import CalDAVSide, GoogleSide, berlin
from tests.sync.calendars import drain, reservations, sync, sync_run

pytestmark = pytest.mark.radicale


@pytest.fixture(params=["caldav", "google"])
def side(request, radicale, room_calendar):
    if request.param == "caldav":
        with Gateway(radicale.url) as gateway:
            yield CalDAVSide(radicale.url, room_calendar, gateway)
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


def _book_board_meeting(services):
    return reservation_service.create(
        services, "Room A", berlin(5, 9), berlin(5, 10), "Board meeting"
    )


def _errors(services) -> list[tuple[str, str]]:
    with services.read() as uow:
        return [(e.action, e.error) for e in uow.events.find(RecordFilter(status="error"))]


def test_a_worker_killed_after_its_booking_landed_is_taken_over_without_a_duplicate(
    side, services, clock, monkeypatch
):
    provider = services.provider("calendar")
    book, killed = provider.book, []

    def killed_once_the_booking_landed(calendar, booking):
        written = book(calendar, booking)
        if not killed:
            killed.append(booking.uid)
            raise Killed("worker killed")  # before calsync recorded where it landed
        return written

    monkeypatch.setattr(provider, "book", killed_once_the_booking_landed)
    booked = _book_board_meeting(services)
    with pytest.raises(Killed):
        run_once(services, limit=1)
    assert len(side.held()) == 1
    clock.advance(minutes=10)  # the dead worker's lease runs out
    drain(services)
    sync(services)
    drain(services)
    assert [(s, e) for s, e, _ in side.held().values()] == [(berlin(5, 9), berlin(5, 10))]
    [reservation] = _live(services)
    assert reservation.id == booked.id
    assert _errors(services) == []


def test_a_worker_killed_mid_read_loses_nothing_and_the_next_run_converges(
    side, services, clock, monkeypatch
):
    for n, day in enumerate((3, 4, 7), start=1):
        side.meeting(f"m{n}", day, 10)
    provider = services.provider("calendar")
    fetch = provider.fetch_changes

    def killed_before_the_read_ended(calendar, delta_key, on_changes=None, since=None):
        fetch(calendar, delta_key, on_changes, since)  # every page recorded as it came...
        raise Killed("worker killed")  # ...and the run dies before its read is finished

    with monkeypatch.context() as patched:
        patched.setattr(provider, "fetch_changes", killed_before_the_read_ended)
        with pytest.raises(Killed):
            sync_run(services)
    clock.advance(minutes=10)  # the dead worker's lease runs out
    drain(services)  # another worker takes the read over
    sync(services)
    assert [r.uid for r in _live(services)] == ["m1", "m2", "m3"]
    assert len(reservations(services)) == 3
    drain(services)
    assert _answers(side) == {"m1": "ACCEPTED", "m2": "ACCEPTED", "m3": "ACCEPTED"}
    assert _errors(services) == []


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_service_gets_the_booking_when_its_retry_after_has_passed(
    side, services, clock, status
):
    booked = _book_board_meeting(services)
    side.throttle_next(1, status, retry_after=120)
    drain(services)  # refused: the service is busy for two minutes
    assert side.held() == {}
    clock.advance(seconds=60)
    drain(services)  # not yet: the backoff alone (1 s) would have sent it again by now
    assert side.held() == {}
    clock.advance(seconds=61)
    drain(services)
    assert [(s, e) for s, e, _ in side.held().values()] == [(berlin(5, 9), berlin(5, 10))]
    [reservation] = _live(services)
    assert reservation.id == booked.id
    assert _errors(services) == []


def test_a_busy_service_is_read_again_when_its_retry_after_has_passed(side, services, clock):
    side.meeting("m1", 3, 10)
    side.throttle_next(1, 429, retry_after=120)
    refused = sync_run(services)
    assert (refused.state, "429" in refused.error) == (EventState.new, True)  # to be retried
    assert reservations(services) == []
    clock.advance(seconds=60)
    drain(services)
    assert reservations(services) == []
    clock.advance(seconds=61)
    drain(services)
    [reservation] = _live(services)
    assert (reservation.uid, reservation.status) == ("m1", ReservationStatus.confirmed)
    assert _errors(services) == []


def test_a_booking_the_room_declines_shows_as_conflicted_on_the_reservation(side, services):
    if not services.provider("calendar").capabilities.room_decides:
        pytest.skip(f"a {side.kind} room does not answer on its own (room_decides is false)")
    side.room_declines_everything()
    booked = _book_board_meeting(services)
    drain(services)
    [reservation] = reservations(services)
    assert (reservation.id, reservation.status) == (booked.id, ReservationStatus.conflicted)
    assert reservation.reason == "the room declined it in the calendar"
    assert _answers(side) == {booked.uid: "DECLINED"}
    sync(services)  # reading the declined booking back changes nothing
    assert [r.status for r in reservations(services)] == [ReservationStatus.conflicted]


def test_the_clock_of_the_suite(clock):
    assert clock() == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert berlin(3, 10) - clock() > timedelta(days=1)
