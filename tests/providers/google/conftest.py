"""A Google Calendar emulator per test, one room calendar in it, the adapter talking to
it, and calsync's services wired to it as in production (a `google` connection, on
SQLite and on PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from calsync.bootstrap import Services, start
from calsync.config import Settings, parse
from calsync.domain.entries import Window
from calsync.providers.base import Booking
from calsync.providers.google import GoogleCalendarProvider
from tests.providers.google_emulator import GoogleCalendarEmulator

ROOM = "room-1@resource.calendar.google.com"
SUBJECT = "admin@example.com"
BERLIN = "Europe/Berlin"
YEAR_2026 = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


@pytest.fixture
def google() -> Iterator[GoogleCalendarEmulator]:
    with GoogleCalendarEmulator() as emulator:
        emulator.add_calendar(ROOM, time_zone=BERLIN, summary="Room 1")
        yield emulator


def make_provider(google: GoogleCalendarEmulator, **options: Any) -> GoogleCalendarProvider:
    return GoogleCalendarProvider(
        google.service_account_info("example.com"),
        SUBJECT,
        api_url=google.api_url,
        timeout=10.0,
        **options,
    )


@pytest.fixture
def provider(google: GoogleCalendarEmulator) -> Iterator[GoogleCalendarProvider]:
    with make_provider(google) as adapter:
        yield adapter


KEY_VARIABLE = "CALSYNC_TEST_GOOGLE_KEY"


def google_settings(
    google: GoogleCalendarEmulator,
    tmp_path: Path,
    database_url: str | None = None,
    **connection: object,
) -> Settings:
    """Room A bound to ROOM through the connection `workspace`, its key in KEY_VARIABLE;
    its database SQLite in `tmp_path` unless `database_url` names one."""
    return parse(
        {
            "database": {"url": database_url or f"sqlite:///{tmp_path / 'calsync.db'}"},
            "sync": {"backoff_seconds": 1.0, "max_attempts": 3},
            "connections": {
                "workspace": {
                    "kind": "google",
                    "subject": SUBJECT,
                    "service_account_env": KEY_VARIABLE,
                    "api_url": google.api_url,
                    **connection,
                }
            },
            "items": [
                {
                    "name": "Room A",
                    "time_zone": BERLIN,
                    "binding": {"connection": "workspace", "calendar": ROOM, "room_address": ROOM},
                }
            ],
        }
    )


@pytest.fixture
def google_key(google: GoogleCalendarEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's service account key in KEY_VARIABLE, as an admin would export it."""
    monkeypatch.setenv(KEY_VARIABLE, json.dumps(google.service_account_info()))


@pytest.fixture
def services(google, google_key, tmp_path: Path, database_url: str, clock) -> Iterator[Services]:
    """calsync on the emulator, on each database (SQLite, PostgreSQL)."""
    made = start(google_settings(google, tmp_path, database_url), clock)
    yield made
    made.close()


def timed(day: int, hour: int, minutes: int = 60, month: int = 3, **fields: Any) -> dict[str, Any]:
    """An event body at `hour` o'clock Berlin time (CET, +01:00 in early March)."""
    end_hour, end_minute = divmod(hour * 60 + minutes, 60)
    return {
        "start": {
            "dateTime": f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00+01:00",
            "timeZone": BERLIN,
        },
        "end": {
            "dateTime": f"2026-{month:02d}-{day:02d}T{end_hour:02d}:{end_minute:02d}:00+01:00",
            "timeZone": BERLIN,
        },
        **fields,
    }


def someone_elses(day: int = 3, hour: int = 10, **fields: Any) -> dict[str, Any]:
    """A meeting Alice organizes with Bob, the room invited and not yet answering."""
    return timed(
        day,
        hour,
        summary="Planning",
        organizer={"email": "alice@example.com"},
        attendees=[
            {"email": "alice@example.com", "responseStatus": "accepted", "organizer": True},
            {"email": "bob@example.com", "responseStatus": "tentative", "comment": "late"},
            {
                "email": ROOM,
                "displayName": "Room 1",
                "resource": True,
                "responseStatus": "needsAction",
            },
        ],
        **fields,
    )


def booking(uid: str = "res-1@calsync", **changes: Any) -> Booking:
    fields: dict[str, Any] = {
        "uid": uid,
        "start": datetime(2026, 3, 20, 9, tzinfo=UTC),
        "end": datetime(2026, 3, 20, 10, tzinfo=UTC),
        "all_day": False,
        "zone": BERLIN,
        "subject": "Team sync",
        "organizer": "carol@example.com",
        "room_address": ROOM,
        "room_name": "Room 1",
        "sequence": 0,
        "written_at": datetime(2026, 3, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return Booking(**fields)
