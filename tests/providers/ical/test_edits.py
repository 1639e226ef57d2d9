"""Editing someone else's calendar object: only what calsync owns changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calsync.domain.entries import Window
from calsync.providers.ical.edits import cancel_occurrence, reschedule
from calsync.providers.ical.reader import read_calendar_object

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))
STAMP = datetime(2026, 11, 20, 12, tzinfo=UTC)

SERIES = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:3\r\n"
    b"DTSTART;TZID=Europe/Berlin:20261207T090000\r\nDTEND;TZID=Europe/Berlin:20261207T093000\r\n"
    b"RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Standup\r\nDESCRIPTION:Bring coffee\r\n"
    b"ORGANIZER:mailto:alice@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n"
    b"ATTENDEE;CUTYPE=ROOM:mailto:room@example.com\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\n"
    b"RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000\r\n"
    b"DTSTART;TZID=Europe/Berlin:20261214T110000\r\nDTEND;TZID=Europe/Berlin:20261214T113000\r\n"
    b"SUMMARY:Standup (late)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def read(data: bytes):
    return read_calendar_object(data, "Europe/Berlin", WINDOW)


def starts(data: bytes) -> list[str]:
    return [o.start.isoformat() for o in read(data).occurrences]


def test_cancelling_one_occurrence_leaves_the_rest_of_the_series():
    edited = cancel_occurrence(SERIES, datetime(2026, 12, 21, 8, tzinfo=UTC), STAMP)
    assert starts(edited) == [
        "2026-12-07T08:00:00+00:00",
        "2026-12-14T10:00:00+00:00",
        "2026-12-28T08:00:00+00:00",
    ]
    assert read(edited).master.sequence == 4
    assert b"Bring coffee" in edited


def test_cancelling_a_moved_occurrence_drops_its_override_too():
    edited = cancel_occurrence(SERIES, datetime(2026, 12, 14, 8, tzinfo=UTC), STAMP)
    assert "2026-12-14T10:00:00+00:00" not in starts(edited)
    assert len(read(edited).entries) == 1


def test_moving_one_occurrence_writes_an_override_and_keeps_the_attendees():
    edited = reschedule(
        SERIES,
        datetime(2026, 12, 28, 8, tzinfo=UTC),
        datetime(2026, 12, 28, 13, tzinfo=UTC),
        datetime(2026, 12, 28, 14, tzinfo=UTC),
        "Standup (afternoon)",
        "Europe/Berlin",
        STAMP,
    )
    obj = read(edited)
    moved = next(
        o for o in obj.occurrences if o.recurrence_id == datetime(2026, 12, 28, 8, tzinfo=UTC)
    )
    assert moved.start == datetime(2026, 12, 28, 13, tzinfo=UTC)
    assert moved.summary == "Standup (afternoon)"
    assert len(obj.occurrences) == 4
    override = obj.entries[-1]
    assert {a.address for a in override.attendees} == {"bob@example.com", "room@example.com"}


def test_rescheduling_a_single_meeting_edits_it_in_place():
    single = SERIES.split(b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE")[
        0
    ]
    single = single.replace(b"RRULE:FREQ=WEEKLY;COUNT=4\r\n", b"") + b"END:VCALENDAR\r\n"
    edited = reschedule(
        single,
        None,
        datetime(2026, 12, 7, 15, tzinfo=UTC),
        datetime(2026, 12, 7, 16, tzinfo=UTC),
        "Standup",
        "Europe/Berlin",
        STAMP,
    )
    [occurrence] = read(edited).occurrences
    assert occurrence.start == datetime(2026, 12, 7, 15, tzinfo=UTC)
    assert occurrence.sequence == 4
    assert b"bob@example.com" in edited


# Objects without a master, and RANGE=THISANDFUTURE --------------------------------------

ONE_INSTANCE = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\n"
    b"RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000\r\n"
    b"DTSTART;TZID=Europe/Berlin:20261214T110000\r\nDTEND;TZID=Europe/Berlin:20261214T113000\r\n"
    b"SUMMARY:Standup (late)\r\nATTENDEE;CUTYPE=ROOM:mailto:room@example.com\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_cancelling_the_only_occurrence_of_an_object_without_master_leaves_it_to_delete():
    # As Exchange and Google hand over the one instance a room was invited to.
    assert cancel_occurrence(ONE_INSTANCE, datetime(2026, 12, 14, 8, tzinfo=UTC), STAMP) is None


def test_cancelling_one_of_several_instances_without_master_keeps_the_others():
    other = (
        ONE_INSTANCE.split(b"BEGIN:VEVENT")[1]
        .split(b"END:VCALENDAR")[0]
        .replace(b"1214T", b"1221T")
    )
    two = ONE_INSTANCE.replace(b"END:VCALENDAR", b"BEGIN:VEVENT" + other + b"END:VCALENDAR")
    edited = cancel_occurrence(two, datetime(2026, 12, 14, 8, tzinfo=UTC), STAMP)
    assert edited is not None
    assert starts(edited) == ["2026-12-21T10:00:00+00:00"]


# The 3rd of six weekly instances and all later ones move two hours on; the 4th was then
# moved once more, on its own.
RANGED = (
    SERIES.split(b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE")[0]
    .replace(b"COUNT=4", b"COUNT=6")
    .replace(b"END:VCALENDAR", b"")
    + b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\n"
    b"RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261221T090000\r\n"
    b"DTSTART;TZID=Europe/Berlin:20261221T110000\r\nDTEND;TZID=Europe/Berlin:20261221T113000\r\n"
    b"SUMMARY:Standup (late)\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\n"
    b"RECURRENCE-ID;TZID=Europe/Berlin:20261228T090000\r\n"
    b"DTSTART;TZID=Europe/Berlin:20261229T150000\r\nDTEND;TZID=Europe/Berlin:20261229T153000\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)
THIRD = datetime(2026, 12, 21, 8, tzinfo=UTC)


def occurrences(data: bytes) -> dict[datetime | None, tuple[str, str]]:
    return {o.recurrence_id: (o.start.isoformat(), o.summary) for o in read(data).occurrences}


def _move(data: bytes, recurrence_id: datetime, start: datetime) -> bytes:
    return reschedule(
        data,
        recurrence_id,
        start,
        start + timedelta(hours=1),
        "Standup (once)",
        "Europe/Berlin",
        STAMP,
    )


def test_moving_a_this_and_future_occurrence_passes_over_later_ones_with_their_own_override():
    ranged = RANGED
    before = occurrences(ranged)
    assert before[datetime(2027, 1, 11, 8, tzinfo=UTC)] == (
        "2027-01-11T10:00:00+00:00",
        "Standup (late)",
    )
    edited = _move(ranged, THIRD, datetime(2026, 12, 21, 14, tzinfo=UTC))
    after = occurrences(edited)
    assert after.pop(THIRD) == ("2026-12-21T14:00:00+00:00", "Standup (once)")
    del before[THIRD]
    assert after == before
    # Both overrides written are newer than the series (SEQUENCE 3), not older.
    sequences = {o.recurrence_id: o.sequence for o in read(edited).occurrences}
    assert sequences[THIRD] == sequences[datetime(2027, 1, 4, 8, tzinfo=UTC)] == 4


def test_moving_the_last_occurrence_that_carries_this_and_future_ends_the_range():
    last = SERIES.replace(
        b"RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000",
        b"RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261228T090000",
    ).replace(b"20261214T11", b"20261228T11")
    fourth = datetime(2026, 12, 28, 8, tzinfo=UTC)
    edited = _move(last, fourth, datetime(2026, 12, 28, 14, tzinfo=UTC))
    assert b"THISANDFUTURE" not in edited
    assert occurrences(edited)[fourth] == ("2026-12-28T14:00:00+00:00", "Standup (once)")
    assert len(occurrences(edited)) == 4
