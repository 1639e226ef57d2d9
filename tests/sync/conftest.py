"""Fixtures of the synchronization tests."""

from __future__ import annotations

import pytest

from calsync.providers.caldav import CalDAVProvider
from tests.sync.calendars import book, room_settings, sync
from tests.sync.man_in_the_middle import wired


@pytest.fixture
def three_answers(make_services, room_calendar, radicale):
    """Room A with three meetings read (three answers queued), its connection on a wire;
    one run at a time, so the three answers go out together. (services, wire, organizer,
    calendar, the meetings' hrefs by UID)."""
    services = make_services(room_settings(room_calendar), {"push_concurrency": 1})
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    hrefs = {uid: book(organizer, room_calendar, uid, day) for day, uid in enumerate("abc", 2)}
    sync(services)
    wire = wired(services, radicale.url)
    yield services, wire, organizer, room_calendar, hrefs
    organizer.close()
