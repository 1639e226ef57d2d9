"""Every adapter keeps the same contract: the in-memory twin, CalDAV on a real Radicale,
and Google Calendar on its emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from calsync.providers.google import GoogleCalendarProvider
from calsync.providers.memory import InMemoryProvider
from tests.providers.contract import ROOM, ZONE, ProviderContract
from tests.providers.google_emulator import GoogleCalendarEmulator


class ICalendarOrganizer:
    """Alice's calendar client: it writes her series whole, as one iCalendar object."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def series(self, calendar: str, uid: str, count: int) -> None:
        rule = f"RRULE:FREQ=DAILY;COUNT={count}\r\n"
        self.provider.create(calendar, uid, _calendar(_planning(uid, 7, rule)))

    def one_occurrence(self, calendar: str, uid: str) -> None:
        """As Exchange and Google hand an invitation to one occurrence over: the
        override alone, without its series."""
        original = f"RECURRENCE-ID;TZID={ZONE}:20261208T110000\r\n"
        self.provider.create(calendar, uid, _calendar(_planning(uid, 8, original)))


def _planning(uid: str, day: int, extra: str) -> str:
    """Alice's meeting on `day` December 2026, 11:00-12:00 Berlin, the room invited."""
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T120000Z\r\nSEQUENCE:0\r\n"
        f"DTSTART;TZID={ZONE}:202612{day:02d}T110000\r\n"
        f"DTEND;TZID={ZONE}:202612{day:02d}T120000\r\n{extra}SUMMARY:Planning\r\n"
        "ORGANIZER:mailto:alice@example.com\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{ROOM}\r\nEND:VEVENT\r\n"
    )


def _calendar(event: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//contract//EN\r\n"
    return f"{head}{event}END:VCALENDAR\r\n".encode()


class GoogleOrganizer:
    """Alice books the room in Google Calendar: her series is one recurring event, which
    the room's calendar lists instance by instance."""

    def __init__(self, emulator: GoogleCalendarEmulator) -> None:
        self.emulator = emulator

    def series(self, calendar: str, uid: str, count: int) -> None:
        recurrence = [f"RRULE:FREQ=DAILY;COUNT={count}"]
        self.emulator.put_event(calendar, {**_event(uid, 7), "recurrence": recurrence})

    def one_occurrence(self, calendar: str, uid: str) -> None:
        """The instance alone: its series' event is not in the room's calendar."""
        series = f"hidden{uuid.uuid4().hex[:8]}"
        instance = _event(uid, 8)
        instance.update(
            id=f"{series}_20261208T100000Z",
            recurringEventId=series,
            originalStartTime=instance["start"],
        )
        self.emulator.put_event(calendar, instance)


def _event(uid: str, day: int) -> dict[str, Any]:
    """Alice's meeting on `day` December 2026, 11:00-12:00 Berlin, the room invited."""
    return {
        "iCalUID": uid,
        "summary": "Planning",
        "start": {"dateTime": f"2026-12-{day:02d}T11:00:00+01:00", "timeZone": ZONE},
        "end": {"dateTime": f"2026-12-{day:02d}T12:00:00+01:00", "timeZone": ZONE},
        "organizer": {"email": "alice@example.com"},
        "attendees": [
            {"email": "alice@example.com", "responseStatus": "accepted", "organizer": True},
            {"email": ROOM, "resource": True, "responseStatus": "needsAction"},
        ],
    }


class TestInMemoryProvider(ProviderContract):
    @pytest.fixture
    def provider(self):
        return InMemoryProvider()

    @pytest.fixture
    def calendar(self, provider):
        path = f"/rooms/{uuid.uuid4().hex[:8]}/"
        provider.make_calendar(path)
        return path

    @pytest.fixture
    def organizer(self, provider):
        return ICalendarOrganizer(provider)


@pytest.mark.radicale
class TestCalDAVOnRadicale(ProviderContract):
    """Fixtures `provider` and `calendar` come from tests/providers/conftest.py."""

    @pytest.fixture
    def organizer(self, provider):
        return ICalendarOrganizer(provider)


@pytest.fixture(scope="module")
def emulator() -> Iterator[GoogleCalendarEmulator]:
    with GoogleCalendarEmulator() as emulator:
        yield emulator


class TestGoogleOnItsEmulator(ProviderContract):
    """One emulator for the module, a fresh room calendar in it for each test."""

    @pytest.fixture
    def provider(self, emulator) -> Iterator[GoogleCalendarProvider]:
        with GoogleCalendarProvider(
            emulator.service_account_info(),
            "admin@example.com",
            api_url=emulator.api_url,
            timeout=10.0,
        ) as adapter:
            yield adapter

    @pytest.fixture
    def calendar(self, emulator) -> str:
        room = f"room-{uuid.uuid4().hex[:12]}@resource.calendar.google.com"
        emulator.add_calendar(room, time_zone="Europe/Berlin", summary="Test room")
        return room

    @pytest.fixture
    def organizer(self, emulator):
        return GoogleOrganizer(emulator)
