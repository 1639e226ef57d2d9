"""calsync end to end against the Google emulator, wired as in production (a `google`
connection in the settings, SQLite): a meeting booked in Google becomes a reservation
and the room accepts it there; a reservation made in calsync is booked in Google; each
write of calsync's own comes back as an echo and is skipped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.domain.reservations import Origin, ReservationStatus
from calsync.store.records import RecordFilter
from calsync.sync import reservations as reservation_service
from calsync.sync.reading import PARALLEL_FROM
from tests.providers.google.conftest import ROOM, someone_elses
from tests.sync.calendars import drain, reservations, reserve, sync

pytestmark = pytest.mark.timeout(60)


def room_answer(event):
    (room,) = [a for a in event["attendees"] if a["email"] == ROOM]
    return room["responseStatus"]


def skipped(services, synchronization) -> list[str]:
    with services.uow() as uow:
        items = uow.calendar_items.find(
            RecordFilter(synchronization_id=synchronization.synchronization_id)
        )
    return [(i.status, i.outcome) for i in items]


def test_a_meeting_booked_in_google_is_confirmed_and_the_room_accepts_it_there(google, services):
    made = google.put_event(ROOM, someone_elses(3, 10, month=12))
    sync(services)
    [reservation] = reservations(services)
    assert reservation.status == ReservationStatus.confirmed
    assert reservation.origin == Origin.calendar
    assert reservation.start == datetime(2026, 12, 3, 9, tzinfo=UTC)
    drain(services)
    assert room_answer(google.event(ROOM, made["id"])) == "accepted"
    assert skipped(services, sync(services)) == [("skipped", "echo of our own write")]


def test_a_reservation_made_changed_and_cancelled_in_calsync_follows_in_google(google, services):
    google.room_decides(ROOM, ROOM)  # the room accepts what does not clash
    made = reserve(services, "Board meeting")
    drain(services)
    [stored] = google.events(ROOM)
    assert stored["summary"] == "Board meeting"
    assert stored["iCalUID"] == made.uid
    assert room_answer(stored) == "accepted"
    sync(services)
    [reservation] = reservations(services)
    assert (reservation.id, reservation.status) == (made.id, ReservationStatus.confirmed)
    reservation_service.update(services, made.id, subject="Final board meeting")
    drain(services)
    assert google.event(ROOM, stored["id"])["summary"] == "Final board meeting"
    assert skipped(services, sync(services)) == [("skipped", "echo of our own write")]
    reservation_service.cancel(services, made.id)
    drain(services)
    assert google.event(ROOM, stored["id"])["status"] == "cancelled"
    sync(services)
    assert [r.status for r in reservations(services)] == [ReservationStatus.cancelled]


def test_a_big_calendar_is_read_in_the_synchronizing_process_without_a_pool(
    google, services, pools_started
):
    # More events than a page of iCalendar needs to be read by a pool: Google's JSON is
    # cheaper to read here than to send to other processes.
    count = PARALLEL_FROM + 50
    for n in range(count):
        day, hour = divmod(n, 10)
        google.put_event(ROOM, someone_elses(2 + day, 8 + hour, month=12))
    assert sync(services).calendar_items == count
    made = reservations(services)
    assert len(made) == count
    assert {r.status for r in made} == {ReservationStatus.confirmed}
    assert pools_started == []


def test_someones_series_becomes_one_reservation_per_instance_and_one_can_be_cancelled(
    google, services
):
    series = google.put_event(
        ROOM, someone_elses(7, 10, month=12, recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    )
    sync(services)
    drain(services)
    made = sorted(reservations(services), key=lambda r: r.start)
    assert [r.status for r in made] == [ReservationStatus.confirmed] * 3
    assert [r.recurrence_id for r in made] == [
        datetime(2026, 12, day, 9, tzinfo=UTC) for day in (7, 8, 9)
    ]
    assert {r.uid for r in made} == {series["iCalUID"]}
    instances = [f"{series['id']}_202612{day:02d}T090000Z" for day in (7, 8, 9)]
    assert [room_answer(google.event(ROOM, i)) for i in instances] == ["accepted"] * 3
    reservation_service.cancel(services, made[2].id)
    drain(services)
    assert google.event(ROOM, instances[2])["status"] == "cancelled"
    assert google.event(ROOM, instances[1])["status"] == "confirmed"
    sync(services)
    statuses = [r.status for r in sorted(reservations(services), key=lambda r: r.start)]
    assert statuses == [ReservationStatus.confirmed] * 2 + [ReservationStatus.cancelled]


def test_a_booking_the_room_declines_is_conflicted_and_frees_the_room(google, services):
    google.room_decides(ROOM, ROOM, "decline_all")
    made = reserve(services, "Board meeting")
    drain(services)
    [reservation] = reservations(services)
    assert (reservation.id, reservation.status) == (made.id, ReservationStatus.conflicted)
    assert reservation.reason == "the room declined it in the calendar"
    sync(services)
    assert [r.status for r in reservations(services)] == [ReservationStatus.conflicted]


def test_a_booking_the_room_never_answers_is_given_up_after_the_wait(google, services, clock):
    from calsync.sync.room_answers import recheck_awaiting

    google.room_decides(ROOM, ROOM, "ignore")
    made = reserve(services, "Board meeting")
    drain(services)
    assert [r.status for r in reservations(services)] == [ReservationStatus.awaiting_confirmation]
    assert recheck_awaiting(services).given_up == []  # not overdue yet
    clock.advance(minutes=11)
    queued = recheck_awaiting(services)
    assert queued.reads_queued, "its calendar is read again first"
    assert queued.given_up == []
    drain(services)
    assert [r.status for r in reservations(services)] == [ReservationStatus.awaiting_confirmation]
    assert recheck_awaiting(services).given_up == [made.id]
    [reservation] = reservations(services)
    assert reservation.status == ReservationStatus.conflicted
    assert "did not answer within 10 minutes" in reservation.reason


def test_a_booking_the_room_answers_late_is_confirmed_by_the_next_read(google, services, clock):
    google.room_decides(ROOM, ROOM, "ignore")
    made = reserve(services, "Board meeting")
    drain(services)
    [stored] = google.events(ROOM)
    attendees = [dict(a, responseStatus="accepted") for a in stored["attendees"]]
    google.patch_event(ROOM, stored["id"], {"attendees": attendees})  # the room says yes
    sync(services)
    [reservation] = reservations(services)
    assert (reservation.id, reservation.status) == (made.id, ReservationStatus.confirmed)
