"""Every adapter keeps the same contract: the in-memory twin, CalDAV on a real Radicale,
and Google Calendar on its emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from calsync.providers.google import GoogleCalendarProvider
from calsync.providers.memory import InMemoryProvider
from tests.providers.contract import ProviderContract
from tests.providers.google_emulator import GoogleCalendarEmulator


class TestInMemoryProvider(ProviderContract):
    @pytest.fixture
    def provider(self):
        return InMemoryProvider()

    @pytest.fixture
    def calendar(self, provider):
        path = f"/rooms/{uuid.uuid4().hex[:8]}/"
        provider.make_calendar(path)
        return path


@pytest.mark.radicale
class TestCalDAVOnRadicale(ProviderContract):
    """Fixtures `provider` and `calendar` come from tests/providers/conftest.py."""


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
