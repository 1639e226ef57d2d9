"""A read meeting a change made in calsync and not yet sent: what the room's occupancy
holds afterwards, against a real Radicale, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.providers.caldav import CalDAVProvider
from calsync.sync import reservations as reservation_service
from tests.sync.calendars import drain, ics, reservations, room_settings, sync, vevent

pytestmark = pytest.mark.radicale


@pytest.fixture
def room(make_services, room_calendar, radicale):
    services = make_services(room_settings(room_calendar))
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    yield services, organizer, room_calendar
    organizer.close()


def _later(vevent_text: str) -> str:
    """The same VEVENT stamped a day later (booked after the other one)."""
    return vevent_text.replace("DTSTAMP:20261101T120000Z", "DTSTAMP:20261102T120000Z")


def test_a_slot_freed_in_calsync_is_free_for_a_meeting_read_with_the_organizers_rename(room):
    # The room leaves the 3rd occurrence of a daily series (its EXDATE waits in the
    # outbox) so that someone else can have that hour. Before the push, one read brings
    # the organizer's rename of the series and Bob's meeting in that freed hour.
    services, organizer, calendar = room
    rule = "RRULE:FREQ=DAILY;COUNT=3\r\n"
    href = organizer.create(
        calendar, "s1", ics(vevent("s1", "20261207T100000", "20261207T110000", extra=rule))
    ).provider_id
    sync(services)
    drain(services)
    third = max(reservations(services), key=lambda r: r.start)
    reservation_service.cancel(services, third.id)
    renamed = vevent("s1", "20261207T100000", "20261207T110000", "Renamed", rule, sequence=1)
    organizer.update(calendar, href, ics(renamed), None)
    bob = _later(vevent("bob", "20261209T100000", "20261209T110000", "Bob"))
    organizer.create(calendar, "bob", ics(bob))
    sync(services)
    [bobs] = [r for r in reservations(services) if r.uid == "bob"]
    third_now = {r.id: r for r in reservations(services)}[third.id]
    assert third_now.status == ReservationStatus.cancelled
    assert bobs.status == ReservationStatus.confirmed, (
        f"the hour calsync freed is free, yet Bob's meeting was {bobs.status.value}: "
        f"{bobs.reason} (the 3rd occurrence, cancelled, is {third.id})"
    )
