"""A Google emulator with one room, calsync's services bound to it with `[push] address`
pointing at a webhook, a real clock (channels expire in real time), and a real
`calsync serve` app on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from calsync.api.app import create_app
from calsync.bootstrap import Services, start
from calsync.config import parse
from tests.conftest import Clock
from tests.providers.google.conftest import BERLIN, ROOM
from tests.providers.google_emulator import GoogleCalendarEmulator


@pytest.fixture
def google() -> Iterator[GoogleCalendarEmulator]:
    with GoogleCalendarEmulator() as emulator:
        emulator.add_calendar(ROOM, time_zone=BERLIN, summary="Room 1")
        yield emulator


@pytest.fixture
def real_clock() -> Clock:
    return Clock(datetime.now(UTC))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def make_services(
    google, tmp_path: Path, monkeypatch, real_clock, port
) -> Iterator[Callable[..., Services]]:
    """Services bound to the emulator's room; `[push] address` is this test's webhook."""
    monkeypatch.setenv("CALSYNC_TEST_GOOGLE_KEY", json.dumps(google.service_account_info()))
    made: list[Services] = []

    def make(push: dict[str, Any] | None = None, active: bool = True, **sync: Any) -> Services:
        binding = {"connection": "workspace", "calendar": ROOM, "room_address": ROOM}
        settings = parse(
            {
                "database": {"url": f"sqlite:///{tmp_path / 'calsync.db'}"},
                "sync": {"backoff_seconds": 1.0, "max_attempts": 3, **sync},
                "push": {"address": f"http://127.0.0.1:{port}/webhooks/google", **(push or {})},
                "connections": {
                    "workspace": {
                        "kind": "google",
                        "subject": "admin@example.com",
                        "service_account_env": "CALSYNC_TEST_GOOGLE_KEY",
                        "api_url": google.api_url,
                    }
                },
                "items": [
                    {
                        "name": "Room A",
                        "time_zone": BERLIN,
                        "binding": {**binding, "active": active},
                    }
                ],
            }
        )
        services = start(settings, real_clock)
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


class Server:
    """`create_app(services)` under uvicorn on 127.0.0.1:`port`, in a thread."""

    def __init__(self, services: Services, port: int) -> None:
        config = uvicorn.Config(
            create_app(services), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def in_two_days(summary: str = "Planning") -> dict[str, Any]:
    """Someone's meeting with the room, two days from now (inside the sync window)."""
    start_at = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    return {
        "summary": summary,
        "start": {"dateTime": start_at.isoformat(), "timeZone": BERLIN},
        "end": {"dateTime": (start_at + timedelta(hours=1)).isoformat(), "timeZone": BERLIN},
        "organizer": {"email": "alice@example.com"},
        "attendees": [
            {"email": "alice@example.com", "responseStatus": "accepted", "organizer": True},
            {"email": ROOM, "resource": True, "responseStatus": "needsAction"},
        ],
    }


# --- the HTTP API (/api/v1) on SQLite and PostgreSQL -------------------------------------

#: Secrets planted in the connections' environment: no answer of the API may hold them.
PASSWORD = "planted-Api-Pa55word-7d2e"
BEARER = "planted-Bearer-T0ken-5f3a9c"
SECRETS = (PASSWORD, BEARER)


def api_settings(
    database_url: str, radicale_url: str, calendar: str, other: str, **extra: Any
) -> Any:
    """Room A on a CalDAV connection with a password, Room B on one with a bearer token,
    and Desk 1, bound to nothing; `extra`: more sections (approval rules, say)."""
    return parse(
        {
            "database": {"url": database_url},
            "sync": {"backoff_seconds": 1.0, "max_attempts": 3},
            "connections": {
                "dav": {
                    "kind": "caldav",
                    "url": radicale_url,
                    "username": "calsync",
                    "password_env": "CALSYNC_API_TEST_PASSWORD",
                },
                "bearer": {
                    "kind": "caldav",
                    "url": radicale_url,
                    "token_env": "CALSYNC_API_TEST_TOKEN",
                },
            },
            "items": [
                {
                    "name": "Room A",
                    "time_zone": "Europe/Berlin",
                    "binding": {
                        "connection": "dav",
                        "calendar": calendar,
                        "room_address": "room-a@example.com",
                    },
                },
                {
                    "name": "Room B",
                    "time_zone": "Europe/Berlin",
                    "binding": {
                        "connection": "bearer",
                        "calendar": other,
                        "room_address": "room-b@example.com",
                    },
                },
                {"name": "Desk 1", "kind": "desk", "time_zone": "Europe/Berlin"},
            ],
            **extra,
        }
    )


class Api:
    """A TestClient on `create_app(services)`, with a token per role made on demand."""

    def __init__(self, services: Services, calendar: str, organizer: Any) -> None:
        from fastapi.testclient import TestClient

        self.services = services
        self.calendar = calendar
        self.organizer = organizer
        self.app = create_app(services)
        self.client = TestClient(self.app)
        self.tokens: dict[str, str] = {}

    def token(self, role: str, performer: str = "") -> str:
        """A token of `role` (named by it); an approver's acts as `performer`."""
        from calsync.domain.access import Role

        name = f"{role}:{performer}" if performer else role
        if name not in self.tokens:
            with self.services.uow() as uow:
                issued = uow.tokens.issue(Role(role), self.services.clock(), role, performer)
                self.tokens[name] = issued
                uow.commit()
        return self.tokens[name]

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.token(role)}"}

    def call(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.headers(role), **kwargs)

    def get(self, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        return self.call("GET", path, role, **kwargs)

    def post(self, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        return self.call("POST", path, role, **kwargs)

    def patch(self, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        return self.call("PATCH", path, role, **kwargs)


#: An approval rule for Room A: its bookings wait for boss@example.com.
APPROVAL_RULES = {
    "approval_rules": [
        {"name": "board", "items": ["Room A"], "performer": {"person": "boss@example.com"}}
    ]
}


@pytest.fixture
def api(database_url, radicale, clock, monkeypatch) -> Iterator[Api]:
    yield from _api(database_url, radicale, clock, monkeypatch)


@pytest.fixture
def approving_api(database_url, radicale, clock, monkeypatch) -> Iterator[Api]:
    """`api` with Room A's bookings waiting for boss@example.com's approval."""
    yield from _api(database_url, radicale, clock, monkeypatch, **APPROVAL_RULES)


def _api(database_url, radicale, clock, monkeypatch, **extra: Any) -> Iterator[Api]:
    from calsync.providers.caldav import CalDAVProvider

    monkeypatch.setenv("CALSYNC_API_TEST_PASSWORD", PASSWORD)
    monkeypatch.setenv("CALSYNC_API_TEST_TOKEN", BEARER)
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    calendars = []
    for _ in range(2):
        path = f"/rooms/room-{uuid.uuid4().hex[:12]}/"
        organizer.make_calendar(path, "Room")
        calendars.append(path)
    services = start(api_settings(database_url, radicale.url, *calendars, **extra), clock)
    try:
        yield Api(services, calendars[0], organizer)
    finally:
        services.close()
        organizer.close()


@pytest.fixture
def synchronized(api) -> Api:
    """Room A's calendar holds two meetings, synchronized (one read, two calendar items
    applied) and answered (two respond events sent)."""
    from tests.sync.calendars import book, drain, sync

    book(api.organizer, api.calendar, "m1", day=3)
    book(api.organizer, api.calendar, "m2", day=4)
    sync(api.services)
    drain(api.services)
    return api


def fail_event(api: Api, action: str, error: str) -> int:
    """The newest event of `action` put in error with `error`, as a worker would leave it."""
    from calsync.store.records import RecordFilter

    with api.services.uow() as uow:
        [event] = uow.events.find(RecordFilter(action=action, limit=1))
        event.state, event.error, event.attempts = "error", error, 3
        uow.commit()
        return event.id
