"""Review: the size and time of the room's per-occurrence declines in one object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calsync.providers.ical.edits import decline_occurrences
from calsync.providers.ical.writer import with_room_partstat

ROOM = "room-a@example.com"


def daily_series(attendees: int) -> bytes:
    people = "".join(
        f"ATTENDEE;CN=Person {i};PARTSTAT=NEEDS-ACTION:mailto:p{i}@example.com\r\n"
        for i in range(attendees)
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//review//EN\r\nBEGIN:VEVENT\r\nUID:s\r\n"
        "DTSTAMP:20261201T000000Z\r\nDTSTART:20261202T090000Z\r\nDTEND:20261202T100000Z\r\n"
        "RRULE:FREQ=DAILY\r\nSUMMARY:Daily\r\nORGANIZER:mailto:o@example.com\r\n"
        + people
        + f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{ROOM}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def answer(data: bytes, declines: tuple[datetime, ...]) -> bytes:
    return decline_occurrences(with_room_partstat(data, ROOM, "ACCEPTED"), ROOM, declines)


RIDS = tuple(datetime(2026, 12, 2, 9, tzinfo=UTC) + timedelta(days=d) for d in range(100))


def test_each_occurrence_declined_costs_at_most_one_copy_of_the_meeting():
    """3.7 kB in, 385 kB out for 100 declines with 50 attendees: each override carries
    the meeting's attendees (RFC 5545: an override inherits nothing), so the object grows
    by one copy of the meeting per occurrence declined, never more; how many occurrences
    are declined one by one is bounded by the policy (`ONE_BY_ONE_DECLINES`)."""
    data = daily_series(50)
    out = answer(data, RIDS)
    assert len(out) <= 1.1 * len(data) * (1 + len(RIDS)), (len(data), len(out))


def test_answering_again_an_object_holding_its_declines_reads_each_override_once(monkeypatch):
    """Writing the same answer over an object that already holds its 100 overrides looked
    for each RECURRENCE-ID by decoding every override again (100 x 100 decodes; with
    1,000 declines, 50 s): each override is now read once per edit."""
    from calsync.providers.ical import edits

    once = answer(daily_series(50), RIDS)
    decoded = []
    real = edits._instant

    def counting(value):
        decoded.append(value)
        return real(value)

    monkeypatch.setattr(edits, "_instant", counting)
    again = answer(once, RIDS)
    assert len(decoded) <= 2 * len(RIDS), len(decoded)
    assert again.count(b"RECURRENCE-ID") == len(RIDS)
