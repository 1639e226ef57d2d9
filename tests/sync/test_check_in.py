"""Check-in end to end against a real Radicale, on SQLite and PostgreSQL: a no-show
release frees the room in the calendar and the slot can be booked again; a check-out
shortens the booking there; a check-in racing the release, and two releases racing, give
one outcome each."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from calsync.domain import check_in as rules
from calsync.domain.reservations import Origin, ReservationStatus
from calsync.errors import CheckInRefused
from calsync.store.records import RecordFilter
from calsync.sync import check_in as check_in_service
from calsync.sync import reservations as reservation_service
from tests.sync.calendars import drain, ics, reservations, reserve, room_settings, sync, vevent

pytestmark = pytest.mark.radicale

START = datetime(2026, 12, 5, 9, tzinfo=UTC)  # reserve(): 09:00-10:00 UTC, 10:00 in Berlin


def check_in_room(calendar: str) -> list[dict[str, object]]:
    [room] = room_settings(calendar)
    return [{**room, "policy": {"check_in_required": True, "no_show_after_minutes": 15}}]


@pytest.fixture
def room(make_services, room_calendar):
    services = make_services(check_in_room(room_calendar))
    return services, services.provider("dav"), room_calendar


def in_calendar(provider, calendar: str) -> dict[str, tuple[datetime, datetime]]:
    """UID -> (start, end) in UTC of every meeting in the room's calendar."""
    found = {}
    for change in provider.fetch_changes(calendar, None).changes:
        for event in Calendar.from_ical(change.data).walk("VEVENT"):
            start, end = event["DTSTART"].dt, event["DTEND"].dt
            found[str(event["UID"])] = (start.astimezone(UTC), end.astimezone(UTC))
    return found


def actions(services) -> list[tuple[str, str]]:
    with services.uow() as uow:
        return [(e.action, e.state) for e in uow.events.find(RecordFilter(limit=100))]


def test_a_no_show_release_frees_the_room_in_radicale_and_the_slot_is_booked_again(room, clock):
    services, provider, calendar = room
    booked = reserve(services, "Stand-up")
    drain(services)
    assert booked.uid in in_calendar(provider, calendar)
    clock.now = START + timedelta(minutes=14)
    assert check_in_service.release_no_shows(services).released == []  # still in its grace
    clock.now = START + timedelta(minutes=15)
    assert check_in_service.release_no_shows(services).released == [booked.id]
    drain(services)
    assert in_calendar(provider, calendar) == {}
    assert ("delete", "processed") in actions(services)
    [released] = reservations(services)
    assert released.status == ReservationStatus.cancelled
    assert released.no_show_released_at == START + timedelta(minutes=15)
    assert released.reason.startswith("released as a no-show")
    # Someone books the same hour in the calendar: the room is free, it is accepted.
    provider.create(calendar, "next", ics(vevent("next", "20261205T100000", "20261205T110000")))
    sync(services)
    by_uid = {r.uid: r for r in reservations(services)}
    assert by_uid["next"].status == ReservationStatus.confirmed


def test_someones_meeting_released_as_a_no_show_leaves_the_room_as_a_cancellation_does(room, clock):
    services, provider, calendar = room
    provider.create(calendar, "m1", ics(vevent("m1", "20261205T100000", "20261205T110000")))
    sync(services)
    drain(services)
    clock.now = START + timedelta(minutes=20)
    [released] = check_in_service.release_no_shows(services).released
    drain(services)
    assert "m1" not in in_calendar(provider, calendar)
    sync(services)  # the deletion read back changes nothing more
    [mirror] = reservations(services)
    assert (mirror.id, mirror.status, mirror.origin) == (
        released,
        ReservationStatus.cancelled,
        Origin.calendar,
    )
    assert mirror.no_show_released_at is not None
    again = reservation_service.create(
        services, "Room A", START + timedelta(minutes=30), START + timedelta(hours=1)
    )
    assert again.status == ReservationStatus.confirmed


def test_a_checked_in_reservation_is_not_released(room, clock):
    services, _, _ = room
    booked = reserve(services, "Stand-up")
    clock.now = START - timedelta(minutes=5)
    check_in_service.check_in(services, booked.id)
    clock.now = START + timedelta(minutes=30)
    assert check_in_service.release_no_shows(services).released == []
    [kept] = reservations(services)
    assert kept.status == ReservationStatus.confirmed
    assert kept.checked_in_at == START - timedelta(minutes=5)


def test_a_check_out_shortens_the_booking_in_radicale_and_its_echo_changes_nothing(room, clock):
    services, provider, calendar = room
    booked = reserve(services, "Stand-up")
    drain(services)
    clock.now = START + timedelta(minutes=2)
    check_in_service.check_in(services, booked.id)
    clock.now = START + timedelta(minutes=20, seconds=30)
    out = check_in_service.check_out(services, booked.id)
    assert out.end == START + timedelta(minutes=21)
    drain(services)
    assert in_calendar(provider, calendar)[booked.uid] == (START, START + timedelta(minutes=21))
    assert [a for a in actions(services) if a[0] == "update"] == [("update", "processed")]
    sync(services)
    [shown] = reservations(services)
    assert (shown.end, shown.status) == (START + timedelta(minutes=21), ReservationStatus.confirmed)
    assert shown.checked_in_at == START + timedelta(minutes=2)
    assert shown.checked_out_at == START + timedelta(minutes=20, seconds=30)
    # The rest of the hour is free again.
    after = reservation_service.create(services, "Room A", out.end, START + timedelta(hours=1))
    assert after.status == ReservationStatus.confirmed


def test_a_check_out_of_someones_meeting_shortens_it_in_place(room, clock):
    services, provider, calendar = room
    provider.create(calendar, "m1", ics(vevent("m1", "20261205T100000", "20261205T110000")))
    sync(services)
    drain(services)
    [meeting] = reservations(services)
    clock.now = START + timedelta(minutes=5)
    check_in_service.check_in(services, meeting.id)
    clock.now = START + timedelta(minutes=40)
    check_in_service.check_out(services, meeting.id)
    drain(services)
    assert in_calendar(provider, calendar)["m1"] == (START, START + timedelta(minutes=40))
    sync(services)
    [shown] = reservations(services)
    assert shown.end == START + timedelta(minutes=40)
    assert shown.status == ReservationStatus.confirmed


def _paused(real, pause: threading.Event, go: threading.Event):
    """`real`, which, once called, says so and waits for `go` (holding its transaction)."""

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        pause.set()
        go.wait(10)
        return result

    return wrapped


def _in_thread(target) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(target())
        except CheckInRefused as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.timeout(60)
def test_a_check_in_arriving_while_the_release_runs_is_refused_as_released(
    make_services, room_calendar, clock, monkeypatch
):
    worker, user = (make_services(check_in_room(room_calendar)) for _ in range(2))
    booked = reserve(worker, "Stand-up")
    clock.now = START + timedelta(minutes=15)
    inside, go = threading.Event(), threading.Event()
    monkeypatch.setattr(rules, "release", _paused(rules.release, inside, go))
    releasing, released = _in_thread(lambda: check_in_service.release_no_shows(worker))
    assert inside.wait(10)
    checking_in, checked_in = _in_thread(lambda: check_in_service.check_in(user, booked.id))
    time.sleep(0.3)  # the check-in waits for the item's writer lock
    assert checked_in == []
    go.set()
    releasing.join(30)
    checking_in.join(30)
    assert released[0].released == [booked.id]
    assert isinstance(checked_in[0], CheckInRefused)
    assert "released as a no-show" in str(checked_in[0])
    [gone] = reservations(worker)
    assert (gone.status, gone.checked_in_at) == (ReservationStatus.cancelled, None)
    assert [a for a, _ in actions(worker) if a == "delete"] == ["delete"]


@pytest.mark.timeout(60)
def test_a_release_arriving_while_a_check_in_runs_passes_the_reservation_by(
    make_services, room_calendar, clock, monkeypatch
):
    worker, user = (make_services(check_in_room(room_calendar)) for _ in range(2))
    booked = reserve(worker, "Stand-up")
    clock.now = START + timedelta(minutes=15)
    inside, go = threading.Event(), threading.Event()
    monkeypatch.setattr(rules, "check_in", _paused(rules.check_in, inside, go))
    checking_in, checked_in = _in_thread(lambda: check_in_service.check_in(user, booked.id))
    assert inside.wait(10)
    releasing, released = _in_thread(lambda: check_in_service.release_no_shows(worker))
    time.sleep(0.3)  # the release waits for the item's writer lock
    go.set()
    checking_in.join(30)
    releasing.join(30)
    assert checked_in[0].checked_in_at == START + timedelta(minutes=15)
    assert (released[0].released, released[0].passed) == ([], [booked.id])
    [kept] = reservations(worker)
    assert (kept.status, kept.checked_in_at) == (ReservationStatus.confirmed, clock.now)
    assert "delete" not in [a for a, _ in actions(worker)]


@pytest.mark.timeout(60)
def test_two_workers_releasing_at_once_release_each_no_show_once(
    make_services, room_calendar, clock, monkeypatch
):
    first, second = (make_services(check_in_room(room_calendar)) for _ in range(2))
    booked = [
        reservation_service.create(
            first, "Room A", START + timedelta(hours=h), START + timedelta(hours=h + 1)
        )
        for h in range(-3, 1)
    ]
    clock.now = START + timedelta(minutes=15)  # three ended; the last is a no-show
    inside, go = threading.Event(), threading.Event()
    monkeypatch.setattr(rules, "release", _paused(rules.release, inside, go))
    one, by_first = _in_thread(lambda: check_in_service.release_no_shows(first))
    assert inside.wait(10)
    other, by_second = _in_thread(lambda: check_in_service.release_no_shows(second))
    time.sleep(0.3)
    go.set()
    one.join(30)
    other.join(30)
    assert by_first[0].released + by_second[0].released == [booked[-1].id]
    assert by_second[0].passed == [booked[-1].id]
    assert [a for a, _ in actions(first) if a == "delete"] == ["delete"]


SERIES = "RRULE:FREQ=DAILY;COUNT=3\r\n"  # 7 to 9 December, 10:00-11:00 in Berlin


def occurrences(provider, calendar: str, uid: str) -> dict[datetime | None, tuple]:
    """The series' exceptions in the calendar: RECURRENCE-ID (None: the master) ->
    (start, end, EXDATEs), in UTC."""
    found = {}
    for change in provider.fetch_changes(calendar, None).changes:
        for event in Calendar.from_ical(change.data).walk("VEVENT"):
            if str(event["UID"]) != uid:
                continue
            rid = event.get("RECURRENCE-ID")
            exdates = event.get("EXDATE", [])
            exdates = exdates if isinstance(exdates, list) else [exdates]
            gone = {d.dt.astimezone(UTC) for each in exdates for d in each.dts}
            found[rid.dt.astimezone(UTC) if rid else None] = (
                event["DTSTART"].dt.astimezone(UTC),
                event["DTEND"].dt.astimezone(UTC),
                gone,
            )
    return found


def test_a_no_show_occurrence_of_someones_series_leaves_the_room_alone(room, clock):
    services, provider, calendar = room
    provider.create(
        calendar, "s1", ics(vevent("s1", "20261207T100000", "20261207T110000", extra=SERIES))
    )
    sync(services)
    drain(services)
    eighth = datetime(2026, 12, 8, 9, tzinfo=UTC)
    clock.now = eighth + timedelta(minutes=15)
    [released] = check_in_service.release_no_shows(services).released
    drain(services)
    assert eighth in occurrences(provider, calendar, "s1")[None][2]  # EXDATE: that day only
    sync(services)
    by_day = {r.start.day: r for r in reservations(services)}
    assert by_day[8].id == released
    assert by_day[8].status == ReservationStatus.cancelled
    assert by_day[9].status == ReservationStatus.confirmed
    provider.create(calendar, "next", ics(vevent("next", "20261208T103000", "20261208T113000")))
    sync(services)
    assert {r.uid: r for r in reservations(services)}["next"].status == ReservationStatus.confirmed


def test_a_check_out_of_one_occurrence_shortens_that_occurrence_alone(room, clock):
    services, provider, calendar = room
    provider.create(
        calendar, "s1", ics(vevent("s1", "20261207T100000", "20261207T110000", extra=SERIES))
    )
    sync(services)
    drain(services)
    eighth = datetime(2026, 12, 8, 9, tzinfo=UTC)
    [occurrence] = [r for r in reservations(services) if r.start == eighth]
    clock.now = eighth
    check_in_service.check_in(services, occurrence.id)
    clock.now = eighth + timedelta(minutes=25)
    check_in_service.check_out(services, occurrence.id)
    drain(services)
    in_radicale = occurrences(provider, calendar, "s1")
    assert in_radicale[eighth][:2] == (eighth, eighth + timedelta(minutes=25))
    assert in_radicale[None][:2] == (
        datetime(2026, 12, 7, 9, tzinfo=UTC),
        datetime(2026, 12, 7, 10, tzinfo=UTC),
    )
    sync(services)
    ends = sorted((r.start.day, r.end.minute, r.status) for r in reservations(services))
    assert ends == [(day, 25 if day == 8 else 0, ReservationStatus.confirmed) for day in (7, 8, 9)]
