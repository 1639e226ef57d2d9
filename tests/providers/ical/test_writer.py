from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.domain.entries import Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.reader import read_calendar_object
from calsync.providers.ical.writer import render_reservation, with_room_partstat

WINDOW = Window(datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
STAMP = datetime(2025, 1, 1, tzinfo=UTC)
ROOM = "room.1@example.com"


def render(start, end, *, all_day=False, zone="Europe/Berlin", partstat="ACCEPTED", **kwargs):
    arguments = {
        "uid": "res-1",
        "summary": "Board meeting",
        "organizer": "Alice@Example.com",
        "room_address": ROOM,
        "room_name": "Room 1",
        "sequence": 0,
        "dtstamp": STAMP,
    }
    arguments.update(kwargs)
    return render_reservation(
        start=start, end=end, all_day=all_day, zone=zone, partstat=partstat, **arguments
    )


def test_timed_reservation_is_written_in_the_item_zone_and_reads_back():
    start = datetime(2025, 3, 1, 8, tzinfo=UTC)
    data = render(start, start + timedelta(hours=1))
    assert b"PRODID:-//calsync//calsync//EN" in data
    assert b"DTSTART;TZID=Europe/Berlin:20250301T090000" in data
    assert b"BEGIN:VTIMEZONE" in data
    entry = read_calendar_object(data, "UTC", WINDOW).master
    assert (entry.uid, entry.start, entry.end, entry.summary) == (
        "res-1",
        start,
        start + timedelta(hours=1),
        "Board meeting",
    )
    assert entry.organizer == "alice@example.com"


def test_room_is_a_non_participant_room_attendee_with_the_given_partstat():
    start = datetime(2025, 3, 1, 8, tzinfo=UTC)
    data = render(start, start + timedelta(hours=1), partstat="tentative")
    unfolded = data.replace(b"\r\n ", b"")
    assert b"CUTYPE=ROOM" in unfolded
    assert b"ROLE=NON-PARTICIPANT" in unfolded
    (room,) = read_calendar_object(data, "UTC", WINDOW).master.attendees
    assert (room.address, room.name, room.partstat, room.cutype) == (
        ROOM,
        "Room 1",
        "TENTATIVE",
        "ROOM",
    )


def test_all_day_reservation_is_written_as_dates():
    start = datetime(2025, 2, 28, 23, tzinfo=UTC)  # midnight in Berlin
    data = render(start, start + timedelta(days=1), all_day=True)
    assert b"DTSTART;VALUE=DATE:20250301" in data
    entry = read_calendar_object(data, "Europe/Berlin", WINDOW).master
    assert (entry.start, entry.end, entry.all_day) == (start, start + timedelta(days=1), True)


def test_second_of_a_repeated_local_hour_is_written_in_utc():
    start = datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # 02:30 CET, after the 02:30 CEST
    data = render(start, start + timedelta(minutes=30))
    assert read_calendar_object(data, "UTC", WINDOW).master.start == start


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        render(datetime(2025, 3, 1, 8), datetime(2025, 3, 1, 9))


zones = st.sampled_from(
    ["Europe/Berlin", "America/New_York", "Pacific Standard Time", "Asia/Kolkata", "UTC"]
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


@settings(max_examples=150, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=3 * 24 * 60), zone=zones)
def test_render_then_read_round_trips_any_time_in_any_zone(start, minutes, zone):
    end = start + timedelta(minutes=minutes)
    data = render(start, end, zone=zone, uid="u-round", summary="Sync; a, b")
    entry = read_calendar_object(data, "UTC", WINDOW).master
    assert (entry.uid, entry.start, entry.end, entry.summary) == (
        "u-round",
        start,
        end,
        "Sync; a, b",
    )


def test_partstat_round_trip_sets_the_room_decision():
    start = datetime(2025, 3, 1, 8, tzinfo=UTC)
    data = render(start, start + timedelta(hours=1), partstat="NEEDS-ACTION")
    declined = with_room_partstat(data, "MAILTO:Room.1@example.com", "declined")
    (room,) = read_calendar_object(declined, "UTC", WINDOW).master.attendees
    assert room.partstat == "DECLINED"
    accepted = read_calendar_object(with_room_partstat(declined, ROOM, "ACCEPTED"), "UTC", WINDOW)
    assert accepted.master.attendees[0].partstat == "ACCEPTED"
    assert accepted.master.start == start


SERIES = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VEVENT\r
UID:series-1\r
DTSTART:20250303T090000Z\r
RRULE:FREQ=WEEKLY;COUNT=3\r
SUMMARY:Weekly\r
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:series-1\r
RECURRENCE-ID:20250310T090000Z\r
DTSTART:20250310T100000Z\r
SUMMARY:Moved\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_missing_room_is_added_to_every_vevent_and_nothing_else_changes():
    before = read_calendar_object(SERIES, "UTC", WINDOW)
    after = read_calendar_object(with_room_partstat(SERIES, ROOM, "ACCEPTED"), "UTC", WINDOW)
    for entry in after.entries:
        room = [a for a in entry.attendees if a.address == ROOM]
        assert [(a.partstat, a.cutype) for a in room] == [("ACCEPTED", "ROOM")]
    assert after.occurrences == before.occurrences
    assert after.master.attendees[0].partstat == "ACCEPTED"  # bob untouched


def test_partstat_of_invalid_data_is_an_error():
    with pytest.raises(InvalidCalendarData):
        with_room_partstat(b"not a calendar", ROOM, "ACCEPTED")
