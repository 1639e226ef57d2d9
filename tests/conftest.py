"""Shared fixtures: a database per backend (SQLite file, fresh PostgreSQL database),
a real Radicale server, a controllable clock and services wired like production.

PostgreSQL: CALSYNC_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
is used to create one throw-away database per test. Without a server those tests skip with
a message, unless CALSYNC_REQUIRE_POSTGRES=1 (as in CI), which makes them fail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from calsync.bootstrap import Services, start
from calsync.config import parse
from calsync.providers.caldav import CalDAVProvider
from calsync.radicale_server import RadicaleServer
from calsync.store.db import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "CALSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CALSYNC_REQUIRE_POSTGRES") == "1"
TEMPLATE = f"calsync_template_{os.getpid()}"


#: CPU seconds a healthy CPU of this project's machines needs for `_reference_work`.
REFERENCE_SECONDS = 0.02


def _reference_work() -> int:
    return sum(i * i for i in range(300_000))


def slowness() -> float:
    """How many times slower than a healthy CPU this one runs pure Python now (at least 1):
    a throttled or shared virtual CPU stretches every CPU-time bound of the suite alike,
    so those bounds are multiplied by it (a cost that grew a thousandfold still fails).
    Measured at each call: a shared CPU's speed changes during a run."""
    spent = []
    for _ in range(5):
        began = time.process_time()
        _reference_work()
        spent.append(time.process_time() - began)
    return max(1.0, min(spent) / REFERENCE_SECONDS)


def cpu_bound(seconds: float) -> float:
    """`seconds` of CPU on a healthy machine, on this one."""
    return seconds * slowness()


class Killed(BaseException):
    """A worker killed mid-run (kill -9, a power cut): raised by a test at that moment, it
    passes every handler of calsync's, as nothing runs in a killed process."""


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test's database is copied from."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE}"))
            connection.execute(text(f"CREATE DATABASE {TEMPLATE}"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "no PostgreSQL"
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.__class__.__name__}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (CALSYNC_REQUIRE_POSTGRES=1)")
        pytest.skip(message + "; set CALSYNC_TEST_POSTGRES_URL to run the PostgreSQL half")
    url = make_url(POSTGRES_URL).set(database=TEMPLATE).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'calsync.db'}"
        return
    request.node.add_marker(pytest.mark.postgresql)
    request.getfixturevalue("postgres_template")
    name = f"calsync_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def room_calendar(radicale: RadicaleServer) -> str:
    """A fresh, empty room calendar on the shared Radicale server."""
    path = f"/rooms/room-{uuid.uuid4().hex[:12]}/"
    provider = CalDAVProvider(radicale.url, timeout=10.0)
    try:
        provider.make_calendar(path, "Room")
    finally:
        provider.close()
    return path


def settings_for(
    database_url: str,
    radicale_url: str,
    items: list[dict[str, Any]],
    sync: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Any:
    """Settings on this database and Radicale; `extra`: more sections (policies, rules)."""
    return parse(
        {
            "database": {"url": database_url},
            "sync": {"backoff_seconds": 1.0, "max_attempts": 3, **(sync or {})},
            "connections": {"dav": {"kind": "caldav", "url": radicale_url}},
            "items": items,
            **(extra or {}),
        }
    )


@pytest.fixture
def make_services(
    database_url: str, radicale: RadicaleServer, clock: Clock
) -> Iterator[Callable[..., Services]]:
    made: list[Services] = []

    def make(
        items: list[dict[str, Any]],
        sync: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Services:
        services = start(settings_for(database_url, radicale.url, items, sync, extra), clock)
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()
