"""The iCalendar reader against bad input: a corpus of real-world oddities and Hypothesis'
mutations of a valid object, each read as a synchronization reads a payload (`read_one`
on the stored text). Each ends as a calendar object or an `InvalidCalendarData` with a
readable reason: never another exception, never a hang."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.domain.entries import CalendarObject, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.reader import read_payload
from calsync.sync.reading import read_one, stored_payload
from tests.conftest import cpu_bound
from tests.sync.bad_calendars import CORPUS, GOOD

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))
#: Per payload: the aim is well under a second; this machine is shared.
SECONDS = 2.0


def read(data: bytes) -> CalendarObject | InvalidCalendarData:
    began = time.process_time()
    result = read_one(read_payload, stored_payload(data), "Europe/Berlin", WINDOW)
    assert time.process_time() - began < cpu_bound(SECONDS)
    assert isinstance(result, CalendarObject | InvalidCalendarData)
    if isinstance(result, InvalidCalendarData):
        assert result.reason.strip(), "an error must say what was wrong"
        assert len(result.reason) < 600, "a reason is read by a person"
    return result


def test_the_corpus_is_large_and_its_names_tell_the_cases_apart():
    assert len(CORPUS) >= 120
    assert len({name for name, _ in CORPUS}) == len(CORPUS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "data"), CORPUS, ids=[name for name, _ in CORPUS])
def test_each_oddity_reads_as_an_object_or_a_readable_error(name, data):
    read(data)


EXPECTED_REASONS = {
    "missing DTSTART": "has no DTSTART",
    "DTEND before DTSTART": "is before DTSTART",
    "unknown TZID": "unknown time zone 'Mars/Olympus_Mons'",
    "duplicate UIDs with different case": "several UIDs: ['Meeting-1', 'meeting-1']",
    "RRULE garbage": "has no FREQ",
    "RRULE BYHOUR 24": "BYHOUR=24 is outside 0..23",
    "RRULE BYDAY 99th Monday": "BYDAY=99MO is outside -53..53",
    "0-length VEVENT": "no UID",
    "empty body": "not valid iCalendar",
    "two DTSTARTs": "DTSTART given 2 times",
    "DTSTART as a period": "DTSTART is a period",
    "TZID that is a directory": "could not be looked up",
    "RRULE on 31 February": "over the limit of 5000",
    "RRULE secondly forever": "over the limit of 5000",
    "RRULE UNTIL and COUNT": "both UNTIL and COUNT",
}


@pytest.mark.parametrize(("name", "reason"), EXPECTED_REASONS.items())
def test_the_reason_says_what_was_wrong(name, reason):
    data = dict(CORPUS)[name]
    result = read(data)
    assert isinstance(result, InvalidCalendarData)
    assert reason in result.reason


def test_bytes_that_are_not_utf8_are_read_as_replacement_characters():
    result = read(dict(CORPUS)["invalid UTF-8 sequence"])
    assert isinstance(result, CalendarObject)
    assert "\ufffd" in result.master.summary


def test_a_broken_dtstamp_only_loses_the_booking_order():
    result = read(dict(CORPUS)["DTSTAMP nonsense"])
    assert isinstance(result, CalendarObject)
    assert result.master.dtstamp is None
    assert len(result.occurrences) == 1


# Mutations of a valid object -------------------------------------------------------------

LINES = GOOD.split(b"\r\n")[:-1]
NOISE = st.sampled_from(
    [
        b"",
        b":",
        b";",
        b"=",
        b'"',
        b"\r\n",
        b"\r\n ",
        b"\n",
        b"\r",
        b"\x00",
        b"\xff\xfe",
        b"\xc3",
        b"BEGIN:VEVENT",
        b"END:VEVENT",
        b"BEGIN:VCALENDAR",
        b"END:VCALENDAR",
        b"BEGIN:VTIMEZONE",
        b"DTSTART:20261203T100000Z",
        b"DTEND:20261203T090000Z",
        b"RRULE:FREQ=SECONDLY",
        b"RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        b"RRULE:FREQ=DAILY;COUNT=3",
        b"RECURRENCE-ID;RANGE=THISANDFUTURE:20261203T100000Z",
        b"EXDATE:20261204T100000Z",
        b"RDATE;VALUE=PERIOD:20261205T100000Z/PT1H",
        b"TZID=Mars/Base",
        b"TZID=Europe",
        b"VALUE=DATE",
        b"99999999T999999Z",
        b"20261203",
        b"UID:other",
        b"uid:GOOD",
        b"SEQUENCE:x",
        b"DURATION:-P1D",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The good object with a few lines deleted, duplicated, cut, spliced or garbled."""
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["delete", "duplicate", "cut", "splice", "bytes", "swap"]))
        if how == "delete" and len(lines) > 1:
            del lines[at]
        elif how == "duplicate":
            lines.insert(at, lines[at])
        elif how == "cut":
            line = lines[at]
            lines[at] = line[: draw(st.integers(0, max(0, len(line) - 1)))]
        elif how == "splice":
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            lines[at] = line[:cut] + draw(NOISE) + line[cut:]
        elif how == "bytes":
            lines[at] = lines[at] + draw(st.binary(max_size=12))
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
    return b"\r\n".join(lines) + b"\r\n"


@pytest.mark.timeout(300)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_a_mutated_object_reads_as_an_object_or_a_readable_error(data):
    read(data)


@pytest.mark.timeout(120)
@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_read_as_an_object_or_a_readable_error(data):
    read(b"BEGIN:VCALENDAR\r\n" + data + b"\r\nEND:VCALENDAR\r\n")
