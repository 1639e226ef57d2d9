"""ObjectReader: many payloads are read in a pool while the provider sends more, unless
the adapter's payloads are cheap to read."""

from __future__ import annotations

from datetime import UTC, datetime

from calsync.domain.entries import CalendarObject, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.base import RemoteChange
from calsync.providers.ical.reader import read_payload
from calsync.sync.apply import object_reader
from calsync.sync.reading import PARALLEL_FROM, ObjectReader, read_one, stored_payload
from tests.sync.calendars import ics, room_settings, vevent

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 11, 1, tzinfo=UTC))


def page(count: int) -> list[RemoteChange]:
    changes = [
        RemoteChange(
            f"/r/{n}.ics", f'"{n}"', data=ics(vevent(f"m{n}", "20261203T100000", "20261203T110000"))
        )
        for n in range(count)
    ]
    changes[7] = RemoteChange("/r/7.ics", '"7"', data=b"BEGIN:VCALENDAR\r\nnonsense\r\n")
    return changes


def keys(changes):
    return [(c.provider_id, c.version, stored_payload(c.data)) for c in changes]


def test_a_prefetched_page_reads_the_same_as_reading_one_by_one():
    changes = page(PARALLEL_FROM + 50)
    with ObjectReader(read_payload, "Europe/Berlin", WINDOW) as reader:
        reader.prefetch(changes)
        reads = reader.read(keys(changes))
    expected = [
        read_one(read_payload, stored_payload(c.data), "Europe/Berlin", WINDOW) for c in changes
    ]
    assert [r.uid if isinstance(r, CalendarObject) else None for r in reads] == [
        r.uid if isinstance(r, CalendarObject) else None for r in expected
    ]
    assert isinstance(reads[7], InvalidCalendarData)
    assert reads[8] == expected[8]


def test_a_few_payloads_are_read_in_process_without_a_pool():
    changes = page(10)
    with ObjectReader(read_payload, "Europe/Berlin", WINDOW) as reader:
        reader.prefetch(changes)  # too few to be worth a pool
        reads = reader.read(keys(changes))
        assert reader._pool is None
    assert sum(isinstance(r, CalendarObject) for r in reads) == 9


def test_a_reader_told_not_to_pool_reads_a_big_page_in_process(pools_started):
    changes = page(PARALLEL_FROM + 50)
    with ObjectReader(read_payload, "Europe/Berlin", WINDOW, pooled=False) as reader:
        reader.warm_up()
        reader.prefetch(changes)
        reads = reader.read(keys(changes))
    assert pools_started == []
    assert sum(isinstance(r, CalendarObject) for r in reads) == PARALLEL_FROM + 49
    assert isinstance(reads[7], InvalidCalendarData)


def test_a_caldav_calendar_reads_its_big_pages_in_a_pool(
    make_services, room_calendar, pools_started
):
    services = make_services(room_settings(room_calendar))
    with services.uow() as uow:
        stored = uow.items.get("Room A")
    changes = page(PARALLEL_FROM + 50)
    with object_reader(services, stored, services.clock()) as reader:
        reader.prefetch(changes)
        reads = reader.read(keys(changes))
    assert len(pools_started) == 1
    assert sum(isinstance(r, CalendarObject) for r in reads) == PARALLEL_FROM + 49


def test_a_payload_listed_twice_is_read_once_and_given_to_both():
    changes = page(10)
    twice = keys(changes) + keys(changes[:3])
    with ObjectReader(read_payload, "Europe/Berlin", WINDOW) as reader:
        reads = reader.read(twice)
    assert len(reads) == 13
    assert [r.uid for r in reads[10:]] == [r.uid for r in reads[:3]]


def _parser_bug(payload, zone, window):
    if "m3" in payload:
        raise KeyError("X-UNFORESEEN")
    return read_payload(payload, zone, window)


def test_a_fault_nobody_foresaw_fails_its_payload_alone():
    changes = page(10)
    with ObjectReader(_parser_bug, "Europe/Berlin", WINDOW) as reader:
        reads = reader.read(keys(changes))
    assert isinstance(reads[3], InvalidCalendarData)
    assert reads[3].reason == "unreadable calendar object (KeyError: 'X-UNFORESEEN')"
    assert sum(isinstance(r, CalendarObject) for r in reads) == 8
