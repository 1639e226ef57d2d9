"""`read_event`: one Google event's JSON into the domain's calendar object, and every bad
payload refused as InvalidCalendarData saying what is wrong."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.domain.entries import Attendee, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.google import read_event
from tests.providers.google.conftest import BERLIN, ROOM, YEAR_2026

MARCH = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def event(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": '"7"',
        "id": "abc123def",
        "iCalUID": "abc123def@google.com",
        "status": "confirmed",
        "summary": "Planning",
        "updated": "2026-03-01T12:00:00.000Z",
        "sequence": 2,
        "organizer": {"email": "Alice@Example.com"},
        "start": {"dateTime": "2026-03-03T10:00:00+01:00", "timeZone": BERLIN},
        "end": {"dateTime": "2026-03-03T11:00:00+01:00", "timeZone": BERLIN},
        "attendees": [
            {"email": "alice@example.com", "responseStatus": "accepted", "organizer": True},
            {"email": "bob@example.com", "displayName": "Bob", "responseStatus": "tentative"},
            {
                "email": ROOM,
                "displayName": "Room 1",
                "resource": True,
                "responseStatus": "needsAction",
            },
            {"email": "dan@example.com", "responseStatus": "declined"},
        ],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def read(body: dict[str, Any], window: Window = MARCH):
    return read_event(json.dumps(body), BERLIN, window)


def test_a_single_event_is_one_entry_with_one_occurrence():
    calendar_object = read(event())
    assert calendar_object.uid == "abc123def@google.com"
    (entry,) = calendar_object.entries
    assert entry.recurrence_id is None
    assert entry.start == datetime(2026, 3, 3, 9, tzinfo=UTC)
    assert entry.end == datetime(2026, 3, 3, 10, tzinfo=UTC)
    assert not entry.all_day
    assert entry.status == "CONFIRMED"
    assert entry.sequence == 2
    assert entry.summary == "Planning"
    assert entry.organizer == "alice@example.com"
    assert entry.dtstamp == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert not entry.recurring
    assert entry.attendees == (
        Attendee("alice@example.com", "", "ACCEPTED", "INDIVIDUAL"),
        Attendee("bob@example.com", "Bob", "TENTATIVE", "INDIVIDUAL"),
        Attendee(ROOM, "Room 1", "NEEDS-ACTION", "ROOM"),
        Attendee("dan@example.com", "", "DECLINED", "INDIVIDUAL"),
    )
    (occurrence,) = calendar_object.occurrences
    assert occurrence.key == ("abc123def@google.com", None)
    assert (occurrence.start, occurrence.end) == (entry.start, entry.end)
    assert occurrence.sequence == 2


def test_defaults_fill_what_google_leaves_out():
    body = event(summary=None, sequence=None, status=None, organizer=None, attendees=None)
    (entry,) = read(body).entries
    assert (entry.summary, entry.sequence, entry.status, entry.organizer) == (
        "",
        0,
        "CONFIRMED",
        "",
    )
    assert entry.attendees == ()


def test_without_an_ical_uid_the_id_is_the_uid():
    assert read(event(iCalUID=None)).uid == "abc123def"


def test_a_tentative_event_is_tentative():
    assert read(event(status="tentative")).master.status == "TENTATIVE"


def test_an_event_outside_the_window_has_no_occurrence():
    april = Window(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    calendar_object = read(event(), april)
    assert len(calendar_object.entries) == 1
    assert calendar_object.occurrences == ()


def test_an_instance_carries_its_original_start_as_recurrence_id():
    body = event(
        id="abc123def_20260303T090000Z",
        recurringEventId="abc123def",
        originalStartTime={"dateTime": "2026-03-03T10:00:00+01:00", "timeZone": BERLIN},
        start={"dateTime": "2026-03-04T15:00:00+01:00"},
        end={"dateTime": "2026-03-04T16:00:00+01:00"},
    )
    (occurrence,) = read(body).occurrences
    assert occurrence.recurrence_id == datetime(2026, 3, 3, 9, tzinfo=UTC)
    assert occurrence.start == datetime(2026, 3, 4, 14, tzinfo=UTC)


def test_an_all_day_instance_is_named_by_midnight_in_the_item_zone():
    body = event(
        originalStartTime={"date": "2026-03-10"},
        start={"date": "2026-03-10"},
        end={"date": "2026-03-11"},
    )
    (occurrence,) = read(body).occurrences
    assert occurrence.all_day
    assert occurrence.recurrence_id == datetime(2026, 3, 9, 23, tzinfo=UTC)
    assert occurrence.end == datetime(2026, 3, 10, 23, tzinfo=UTC)


def test_a_local_time_without_offset_is_read_in_its_time_zone():
    body = event(
        start={"dateTime": "2026-03-03T10:00:00", "timeZone": "America/New_York"},
        end={"dateTime": "2026-03-03T11:00:00", "timeZone": "America/New_York"},
    )
    assert read(body).master.start == datetime(2026, 3, 3, 15, tzinfo=UTC)


def test_a_series_master_is_read_as_its_first_instance_and_not_expanded():
    calendar_object = read(event(recurrence=["RRULE:FREQ=DAILY;COUNT=5"]), YEAR_2026)
    assert len(calendar_object.occurrences) == 1
    (occurrence,) = calendar_object.occurrences
    assert occurrence.recurrence_id == occurrence.start == datetime(2026, 3, 3, 9, tzinfo=UTC)


def test_a_cancelled_event_has_no_occurrence():
    assert read(event(status="cancelled")).occurrences == ()


def test_an_attendee_without_an_address_is_left_out():
    body = event(attendees=[{"displayName": "Someone"}, {"email": "bob@example.com"}])
    assert [a.address for a in read(body).master.attendees] == ["bob@example.com"]


def test_a_broken_updated_time_only_loses_the_stamp():
    assert read(event(updated="yesterday")).master.dtstamp is None


def test_the_reader_pickles_for_the_process_pool():
    assert pickle.loads(pickle.dumps(read_event)) is read_event


def _replace(**fields: Any) -> str:
    return json.dumps(event(**fields))


BAD = {
    "not JSON": ("{not json", "not JSON"),
    "a JSON array": ("[1, 2]", "array, not an object"),
    "a JSON string": ('"event"', "string, not an object"),
    "JSON null": ("null", "null, not an object"),
    "empty": ("", "not JSON"),
    "no uid nor id": (_replace(iCalUID=None, id=None), "neither iCalUID nor id"),
    "no start": (_replace(start=None), "no start"),
    "no end": (_replace(end=None), "no end"),
    "start not an object": (_replace(start="2026-03-03"), "start is a JSON string"),
    "start empty": (_replace(start={}), "start has neither date nor dateTime"),
    "start with date and dateTime": (
        _replace(start={"date": "2026-03-03", "dateTime": "2026-03-03T10:00:00Z"}),
        "both date and dateTime",
    ),
    "garbled dateTime": (_replace(start={"dateTime": "3 March"}), "not an RFC 3339"),
    "dateTime a number": (_replace(start={"dateTime": 1772528400}), "not a string"),
    "garbled date": (
        _replace(start={"date": "2026-13-40"}, end={"date": "2026-03-04"}),
        "not a date",
    ),
    "end before start": (
        _replace(end={"dateTime": "2026-03-03T09:00:00+01:00"}),
        "is before start",
    ),
    "date start, dateTime end": (_replace(start={"date": "2026-03-03"}), "not both dates"),
    "unknown time zone": (
        _replace(start={"dateTime": "2026-03-03T10:00:00+01:00", "timeZone": "Mars/Olympus"}),
        "unknown time zone 'Mars/Olympus'",
    ),
    "time zone a number": (
        _replace(start={"dateTime": "2026-03-03T10:00:00+01:00", "timeZone": 1}),
        "timeZone is not a string",
    ),
    "sequence not a number": (_replace(sequence="two"), "sequence 'two'"),
    "sequence negative": (_replace(sequence=-1), "not a whole number"),
    "unknown status": (_replace(status="postponed"), "unknown status 'postponed'"),
    "attendees not a list": (_replace(attendees={"email": "x"}), "attendees is a JSON object"),
    "attendee not an object": (_replace(attendees=["bob@example.com"]), "attendee 1 is not"),
    "organizer a string": (_replace(organizer="alice"), "organizer is a JSON string"),
    "summary a number": (_replace(summary=5), "summary is a JSON number"),
    "garbled original start": (
        _replace(originalStartTime={"dateTime": "soon"}),
        "originalStartTime",
    ),
    "beyond datetime's range": (
        _replace(
            start={"dateTime": "0001-01-01T00:00:00+01:00"},
            end={"dateTime": "0001-01-01T01:00:00+01:00"},
        ),
        "unreadable Google event",
    ),
    "deeply nested": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "over 1 MB": (_replace(description="x" * 1_000_001), "over the 1 MB limit"),
}


@pytest.mark.parametrize(("payload", "reason"), BAD.values(), ids=BAD.keys())
def test_a_bad_event_is_invalid_calendar_data_saying_why(payload, reason):
    with pytest.raises(InvalidCalendarData) as refused:
        read_event(payload, BERLIN, MARCH)
    assert reason in refused.value.reason


def test_an_unknown_item_zone_is_invalid_calendar_data():
    with pytest.raises(InvalidCalendarData, match="unknown time zone"):
        read_event(json.dumps(event()), "Nowhere/Special", MARCH)


def test_the_reason_names_the_event():
    with pytest.raises(InvalidCalendarData, match="Google event 'abc123def': no start"):
        read(event(start=None))
