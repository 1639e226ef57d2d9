from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.domain.entries import Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.reader import read_calendar_object

YEAR_2025 = Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
WIDE = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ics(*events: str, timezones: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{timezones}{body}END:VCALENDAR\n"
    return text.replace("\n", "\r\n").encode()


def read(*events: str, zone: str = "Europe/Berlin", window: Window = YEAR_2025, **kw: str):
    return read_calendar_object(ics(*events, **kw), zone, window)


def test_single_event_becomes_one_entry_and_one_occurrence_without_recurrence_id():
    obj = read(
        """UID:e1
DTSTAMP:20250101T120000Z
DTSTART;TZID=Europe/Berlin:20250301T090000
DTEND;TZID=Europe/Berlin:20250301T100000
SUMMARY:Planning
SEQUENCE:4
STATUS:tentative
ORGANIZER;CN=Alice:MAILTO:Alice@Example.com
ATTENDEE;CN=Room 1;CUTYPE=ROOM;PARTSTAT=accepted:mailto:Room1@Example.com
ATTENDEE:mailto:bob@example.com"""
    )
    entry = obj.master
    assert (obj.uid, entry.start, entry.end) == ("e1", utc(2025, 3, 1, 8), utc(2025, 3, 1, 9))
    assert (entry.sequence, entry.status, entry.recurring) == (4, "TENTATIVE", False)
    assert entry.dtstamp == utc(2025, 1, 1, 12)
    assert entry.organizer == "alice@example.com"
    assert [(a.address, a.name, a.partstat, a.cutype) for a in entry.attendees] == [
        ("room1@example.com", "Room 1", "ACCEPTED", "ROOM"),
        ("bob@example.com", "", "NEEDS-ACTION", "INDIVIDUAL"),
    ]
    (occurrence,) = obj.occurrences
    assert occurrence.recurrence_id is None
    assert (occurrence.start, occurrence.summary, occurrence.sequence) == (
        utc(2025, 3, 1, 8),
        "Planning",
        4,
    )


def test_event_outside_the_window_has_no_occurrence():
    obj = read("UID:e\nDTSTART:20240301T090000Z\nDTEND:20240301T100000Z")
    assert obj.occurrences == ()
    assert obj.master.start == utc(2024, 3, 1, 9)


def test_window_is_half_open():
    at_end = read("UID:e\nDTSTART:20260101T000000Z\nDTEND:20260101T010000Z")
    ending_at_start = read("UID:e\nDTSTART:20241231T230000Z\nDTEND:20250101T000000Z")
    assert at_end.occurrences == ending_at_start.occurrences == ()


def test_floating_time_is_read_in_the_item_zone():
    obj = read("UID:f\nDTSTART:20250301T090000\nDTEND:20250301T100000", zone="America/New_York")
    assert obj.master.start == utc(2025, 3, 1, 14)


def test_all_day_spans_midnight_to_midnight_in_item_zone():
    obj = read("UID:d\nDTSTART;VALUE=DATE:20250301\nDTEND;VALUE=DATE:20250303", zone="Asia/Tokyo")
    assert (obj.master.start, obj.master.end, obj.master.all_day) == (
        utc(2025, 2, 28, 15),
        utc(2025, 3, 2, 15),
        True,
    )
    assert obj.occurrences[0].all_day


def test_missing_dtend_lasts_one_day_for_all_day_and_zero_for_timed():
    all_day = read("UID:d\nDTSTART;VALUE=DATE:20250301", zone="UTC").master
    timed = read("UID:t\nDTSTART:20250301T090000Z").master
    assert all_day.end - all_day.start == timedelta(days=1)
    assert timed.end == timed.start
    assert len(read("UID:t\nDTSTART:20250301T090000Z").occurrences) == 1


def test_duration_gives_the_end_when_dtend_is_missing():
    entry = read("UID:t\nDTSTART:20250301T090000Z\nDURATION:PT90M").master
    assert entry.end == utc(2025, 3, 1, 10, 30)


def test_dst_gap_uses_offset_before_the_gap():
    entry = read("UID:g\nDTSTART;TZID=America/New_York:20070311T023000", window=WIDE).master
    assert entry.start == utc(2007, 3, 11, 7, 30)


def test_dst_overlap_uses_the_first_occurrence():
    entry = read("UID:o\nDTSTART;TZID=America/New_York:20071104T013000", window=WIDE).master
    assert entry.start == utc(2007, 11, 4, 5, 30)


OUTLOOK_PACIFIC = """BEGIN:VTIMEZONE
TZID:Pacific Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""


def test_recurrence_over_dst_keeps_wall_time():
    obj = read(
        """UID:w
DTSTART;TZID=Pacific Standard Time:20250303T090000
DTEND;TZID=Pacific Standard Time:20250303T100000
RRULE:FREQ=WEEKLY;COUNT=2""",
        timezones=OUTLOOK_PACIFIC,
    )
    assert [o.start for o in obj.occurrences] == [utc(2025, 3, 3, 17), utc(2025, 3, 10, 16)]


def test_custom_vtimezone_definition_in_the_object_is_used():
    custom = OUTLOOK_PACIFIC.replace("Pacific Standard Time", "Customized Time Zone")
    entry = read(
        "UID:c\nDTSTART;TZID=Customized Time Zone:20250310T090000", timezones=custom
    ).master
    assert entry.start == utc(2025, 3, 10, 16)


def test_unknown_tzid_without_definition_is_an_error_naming_the_zone():
    with pytest.raises(InvalidCalendarData, match="tzone://Microsoft/Custom") as raised:
        read('UID:u\nDTSTART;TZID="tzone://Microsoft/Custom":20250310T090000')
    assert "'u'" in raised.value.reason


WEEKLY = """UID:series
SUMMARY:Weekly sync
SEQUENCE:2
DTSTART;TZID=Europe/Berlin:20250303T090000
DTEND;TZID=Europe/Berlin:20250303T100000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20250317T090000"""


def test_weekly_series_with_moved_excluded_and_cancelled_occurrences():
    obj = read(
        WEEKLY,
        """UID:series
RECURRENCE-ID;TZID=Europe/Berlin:20250310T090000
DTSTART;TZID=Europe/Berlin:20250311T140000
DTEND;TZID=Europe/Berlin:20250311T150000
SUMMARY:Moved sync
SEQUENCE:3""",
        """UID:series
RECURRENCE-ID;TZID=Europe/Berlin:20250324T090000
DTSTART;TZID=Europe/Berlin:20250324T090000
STATUS:CANCELLED""",
    )
    assert [e.recurrence_id for e in obj.entries] == [
        None,
        utc(2025, 3, 10, 8),
        utc(2025, 3, 24, 8),
    ]
    assert [(o.recurrence_id, o.start, o.summary, o.sequence) for o in obj.occurrences] == [
        (utc(2025, 3, 3, 8), utc(2025, 3, 3, 8), "Weekly sync", 2),
        (utc(2025, 3, 10, 8), utc(2025, 3, 11, 13), "Moved sync", 3),
        (utc(2025, 3, 31, 7), utc(2025, 3, 31, 7), "Weekly sync", 2),
        (utc(2025, 4, 7, 7), utc(2025, 4, 7, 7), "Weekly sync", 2),
    ]


def test_override_without_sequence_takes_the_masters():
    obj = read(
        WEEKLY,
        "UID:series\nRECURRENCE-ID:20250310T080000Z\nDTSTART:20250310T120000Z\nSUMMARY:Later",
    )
    moved = next(o for o in obj.occurrences if o.summary == "Later")
    assert (moved.sequence, moved.start) == (2, utc(2025, 3, 10, 12))


def test_override_written_in_a_different_tzid_than_master():
    obj = read(
        WEEKLY,
        """UID:series
RECURRENCE-ID;TZID=America/New_York:20250310T040000
DTSTART;TZID=America/New_York:20250310T060000
SUMMARY:From another client""",
    )
    starts = {o.recurrence_id: o.start for o in obj.occurrences}
    assert starts[utc(2025, 3, 10, 8)] == utc(2025, 3, 10, 10)
    assert len(obj.occurrences) == 5


def test_rdate_adds_occurrences():
    obj = read(
        """UID:r
DTSTART:20250303T090000Z
DTEND:20250303T100000Z
RRULE:FREQ=DAILY;COUNT=2
RDATE:20250310T150000Z,20250312T150000Z"""
    )
    assert [o.start for o in obj.occurrences] == [
        utc(2025, 3, 3, 9),
        utc(2025, 3, 4, 9),
        utc(2025, 3, 10, 15),
        utc(2025, 3, 12, 15),
    ]
    assert obj.occurrences[2].end == utc(2025, 3, 10, 16)
    assert obj.master.recurring


def test_unbounded_rule_stops_at_window_end():
    window = Window(utc(2025, 3, 1), utc(2025, 4, 1))
    obj = read("UID:u\nDTSTART:20250101T090000Z\nRRULE:FREQ=WEEKLY", window=window)
    assert [o.start.day for o in obj.occurrences] == [5, 12, 19, 26]


def test_all_day_series_occurrences_are_local_days():
    obj = read(
        "UID:a\nDTSTART;VALUE=DATE:20250301\nRRULE:FREQ=DAILY;COUNT=2",
        "UID:a\nRECURRENCE-ID;VALUE=DATE:20250302\nDTSTART;VALUE=DATE:20250305\nSUMMARY:Moved",
        zone="Europe/Berlin",
    )
    assert [(o.recurrence_id, o.start, o.end, o.all_day) for o in obj.occurrences] == [
        (utc(2025, 2, 28, 23), utc(2025, 2, 28, 23), utc(2025, 3, 1, 23), True),
        (utc(2025, 3, 1, 23), utc(2025, 3, 4, 23), utc(2025, 3, 5, 23), True),
    ]


def test_floating_series_is_expanded_in_the_item_zone():
    obj = read(
        "UID:f\nDTSTART:20250303T090000\nRRULE:FREQ=DAILY;COUNT=2\nEXDATE:20250304T090000",
        zone="UTC",
    )
    assert [o.start for o in obj.occurrences] == [utc(2025, 3, 3, 9)]


def test_cancelled_master_yields_no_occurrences():
    assert read(WEEKLY + "\nSTATUS:CANCELLED").occurrences == ()
    assert read("UID:c\nDTSTART:20250303T090000Z\nSTATUS:CANCELLED").occurrences == ()


def test_object_with_only_overrides_reads_them_as_entries():
    obj = read(
        "UID:o\nRECURRENCE-ID:20250317T080000Z\nDTSTART:20250317T100000Z",
        "UID:o\nRECURRENCE-ID:20250310T080000Z\nDTSTART:20250310T100000Z",
    )
    assert [e.recurrence_id for e in obj.entries] == [utc(2025, 3, 10, 8), utc(2025, 3, 17, 8)]
    assert [o.recurrence_id for o in obj.occurrences] == [utc(2025, 3, 10, 8), utc(2025, 3, 17, 8)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a calendar", "not valid iCalendar"),
        (ics("DTSTART:20250301T090000Z"), "no UID"),
        (ics("UID:x"), "'x' has no DTSTART"),
        (ics("UID:x\nDTSTART:yesterday"), "bad DTSTART"),
        (ics("UID:a\nDTSTART:20250301T090000Z", "UID:b\nDTSTART:20250301T090000Z"), "UIDs"),
        (ics("UID:x\nDTSTART:20250301T090000Z\nDTEND:20250301T080000Z"), "before DTSTART"),
        (ics("UID:x\nDTSTART:20250301T090000Z\nRRULE:FREQ=SOMETIMES"), "bad RRULE"),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "no VEVENT"),
    ],
)
def test_malformed_data_raises_invalid_calendar_data_with_a_readable_reason(data, reason):
    with pytest.raises(InvalidCalendarData) as raised:
        read_calendar_object(data, "UTC", YEAR_2025)
    assert reason in raised.value.reason


def test_huge_object_is_refused():
    padding = "DESCRIPTION:" + "x" * 1_100_000
    with pytest.raises(InvalidCalendarData, match="1 MB"):
        read(f"UID:h\nDTSTART:20250301T090000Z\n{padding}")


def test_too_many_occurrences_in_the_window_are_refused():
    with pytest.raises(InvalidCalendarData, match="over the limit of 5000"):
        read("UID:m\nDTSTART:20250101T000000Z\nRRULE:FREQ=SECONDLY")


CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:Office Local Time
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
END:STANDARD
END:VTIMEZONE
"""


def test_a_custom_zone_defined_in_another_object_does_not_leak_into_this_one():
    defined = read("UID:a\nDTSTART;TZID=Office Local Time:20250310T090000", timezones=CUSTOM_ZONE)
    assert defined.occurrences[0].start == utc(2025, 3, 10, 6, 0)
    with pytest.raises(InvalidCalendarData, match="Office Local Time"):
        read("UID:b\nDTSTART;TZID=Office Local Time:20250310T090000")
