"""A booking cancelled in calsync after its create reached the calendar but before the
create's run recorded where it lives (the worker died in between): the cancellation must
reach the room's calendar. Against a real Radicale, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.providers.caldav import CalDAVProvider
from calsync.store.records import RecordFilter
from calsync.sync import push
from calsync.sync import reservations as reservation_service
from calsync.worker.runner import run_once
from tests.conftest import Killed
from tests.sync.calendars import drain, reservations, reserve, room_settings, sync

pytestmark = pytest.mark.radicale


@pytest.fixture
def room(make_services, room_calendar, radicale):
    services = make_services(room_settings(room_calendar))
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    yield services, organizer, room_calendar
    organizer.close()


def test_a_booking_cancelled_while_its_landed_create_was_cut_short_leaves_the_calendar(
    room, clock, monkeypatch
):
    services, organizer, calendar = room
    booked = reserve(services, "Board")
    finish = push._finish
    crashed: list[int] = []

    def crash_once(services_, event_id, *args, **kwargs):
        if not crashed:
            crashed.append(event_id)
            raise Killed("worker killed")
        return finish(services_, event_id, *args, **kwargs)

    monkeypatch.setattr(push, "_finish", crash_once)
    with pytest.raises(Killed):
        run_once(services, limit=1)  # the PUT landed; calsync did not record it
    reservation_service.cancel(services, booked.id)
    clock.advance(minutes=10)  # the dead worker's lease runs out
    drain(services)
    sync(services)
    drain(services)
    in_calendar = [
        c
        for c in organizer.fetch_changes(calendar, None).changes
        if f"UID:{booked.uid}".encode() in (c.data or b"")
    ]
    [reservation] = reservations(services)
    with services.uow() as uow:
        told = [(e.action, e.state, e.response[:90]) for e in uow.events.find(RecordFilter())]
    assert reservation.status == ReservationStatus.cancelled, (
        f"cancelled in calsync, the booking is {reservation.status.value} again; events: {told}"
    )
    assert in_calendar == [], "the cancelled booking is still in the room's calendar"


@pytest.mark.xfail(
    reason="known gap: a create that landed before its run died is taken up and written "
    "over; an edit saved in the calendar in that window is not told from calsync's own",
    strict=True,
)
def test_a_move_saved_in_the_calendar_over_a_landed_create_wins_by_default(
    room, clock, monkeypatch
):
    # conflict_resolution = calendar (the default): someone moves the new booking in the
    # calendar after its create landed and before the create's run, cut short, is taken
    # over. The takeover finds the object there with its UID.
    services, organizer, calendar = room
    booked = reserve(services, "Board")
    finish = push._finish
    crashed: list[int] = []

    def crash_once(services_, event_id, *args, **kwargs):
        if not crashed:
            crashed.append(event_id)
            raise Killed("worker killed")
        return finish(services_, event_id, *args, **kwargs)

    monkeypatch.setattr(push, "_finish", crash_once)
    with pytest.raises(Killed):
        run_once(services, limit=1)
    [landed] = [
        c
        for c in organizer.fetch_changes(calendar, None).changes
        if f"UID:{booked.uid}".encode() in (c.data or b"")
    ]
    moved = (landed.data or b"").replace(b"T100000", b"T150000").replace(b"T110000", b"T160000")
    moved = moved.replace(b"SEQUENCE:0", b"SEQUENCE:1")
    assert b"T150000" in moved
    organizer.update(calendar, landed.provider_id, moved, landed.version)
    clock.advance(minutes=10)
    drain(services)
    sync(services)
    drain(services)
    [entry] = [
        c.data or b""
        for c in organizer.fetch_changes(calendar, None).changes
        if f"UID:{booked.uid}".encode() in (c.data or b"")
    ]
    [reservation] = reservations(services)
    assert b"T150000" in entry, "the move saved in the calendar was written over"
    assert reservation.start.hour == 14  # 15:00 in Berlin
