"""Time zones end to end: what people's calendar apps write becomes the right instants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.sync.calendars import ROOM, ics, reservations, room_settings, sync

pytestmark = pytest.mark.radicale

OUTLOOK_PACIFIC = (
    "BEGIN:VTIMEZONE\r\nTZID:Pacific Standard Time\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def entry(uid: str, dtstart: str, dtend: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T120000Z\r\n{dtstart}\r\n{dtend}\r\n"
        f"SUMMARY:{uid}\r\nATTENDEE;CUTYPE=ROOM:mailto:{ROOM}\r\nEND:VEVENT\r\n"
    )


@pytest.fixture
def room(make_services, room_calendar):
    services = make_services(room_settings(room_calendar))
    return services, services.provider("dav"), room_calendar


def only_reservation(services):
    [reservation] = reservations(services)
    return reservation


def test_windows_zone_name_from_outlook_is_read_through_its_definition(room):
    services, provider, calendar = room
    body = entry(
        "outlook",
        "DTSTART;TZID=Pacific Standard Time:20261203T090000",
        "DTEND;TZID=Pacific Standard Time:20261203T100000",
    )
    provider.create(calendar, "outlook", ics(body, preamble=OUTLOOK_PACIFIC))
    sync(services)
    assert only_reservation(services).start == datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


def test_a_time_in_the_spring_dst_gap_uses_the_offset_before_the_gap(room):
    services, provider, calendar = room
    body = entry(
        "gap",
        "DTSTART;TZID=Europe/Berlin:20270328T023000",
        "DTEND;TZID=Europe/Berlin:20270328T040000",
    )
    provider.create(calendar, "gap", ics(body))
    sync(services)
    # 02:30 does not exist in Berlin that night; RFC 5545 reads it with +01:00: 01:30Z.
    assert only_reservation(services).start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_a_floating_time_is_the_room_s_local_time(room):
    services, provider, calendar = room
    provider.create(
        calendar,
        "floating",
        ics(entry("floating", "DTSTART:20261203T090000", "DTEND:20261203T100000")),
    )
    sync(services)
    assert only_reservation(services).start == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_an_all_day_booking_holds_the_room_from_midnight_to_midnight_local(room):
    services, provider, calendar = room
    provider.create(
        calendar,
        "allday",
        ics(entry("allday", "DTSTART;VALUE=DATE:20261203", "DTEND;VALUE=DATE:20261204")),
    )
    sync(services)
    reservation = only_reservation(services)
    assert reservation.all_day
    assert reservation.start == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert reservation.end == datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
