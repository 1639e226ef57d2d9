"""A Radicale server for the CalDAV adapter tests; each test gets its own calendar in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from calsync.providers.caldav import CalDAVProvider
from calsync.radicale_server import RadicaleServer


@pytest.fixture
def provider(radicale: RadicaleServer) -> Iterator[CalDAVProvider]:
    with CalDAVProvider(radicale.url, timeout=10.0) as caldav:
        yield caldav


@pytest.fixture
def calendar(provider: CalDAVProvider) -> str:
    """A fresh, empty room calendar on the shared server."""
    path = f"/rooms/room-{uuid.uuid4().hex[:12]}/"
    provider.make_calendar(path, "Test room")
    return path
