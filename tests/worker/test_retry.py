"""Retries: exponential backoff with jitter, never sooner than Retry-After, then error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

import httpx
import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.providers.caldav import CalDAVProvider
from calsync.store.records import RecordFilter
from calsync.sync.reprocess import reprocess
from calsync.worker.retry import next_attempt
from calsync.worker.runner import request_sync, run_once

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_backoff_grows_exponentially_within_its_jitter_band():
    rng = Random(7)
    delays = [
        (next_attempt(attempt, 10, NOW, None, 2.0, 600.0, rng) - NOW).total_seconds()
        for attempt in range(1, 6)
    ]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = 2.0 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_capped():
    delay = next_attempt(30, 50, NOW, None, 2.0, 600.0, Random(1)) - NOW
    assert delay <= timedelta(seconds=600)


def test_retry_after_is_honoured_even_when_backoff_is_shorter():
    assert next_attempt(1, 5, NOW, 120.0, 2.0, 600.0, Random(1)) - NOW >= timedelta(seconds=120)


def test_the_last_attempt_gives_up():
    assert next_attempt(5, 5, NOW, None, 2.0, 600.0, Random(1)) is None


@pytest.fixture
def throttled(database_url, clock):
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "120"})

    services = start(
        parse(
            {
                "database": {"url": database_url},
                "sync": {"max_attempts": 3},
                "connections": {"dav": {"kind": "caldav", "url": "http://calendar.test"}},
                "items": [
                    {"name": "Room A", "binding": {"connection": "dav", "calendar": "/rooms/a/"}}
                ],
            }
        ),
        clock,
    )
    services.providers["dav"] = CalDAVProvider(
        "http://calendar.test", transport=httpx.MockTransport(answer)
    )
    yield services, calls
    services.close()


def test_a_throttled_read_waits_for_retry_after_then_ends_in_error(throttled, clock):
    services, calls = throttled
    event_id = request_sync(services, "Room A")

    [first] = run_once(services)
    assert first.state == "new"  # queued again, not failed
    with services.uow() as uow:
        event = uow.events.get(event_id)
        assert event.next_attempt_at >= clock() + timedelta(seconds=120)
        assert "429" in event.error or "Throttled" in event.error
    assert run_once(services) == []  # not due yet

    clock.advance(seconds=121)
    [second] = run_once(services)
    assert second.state == "new"
    clock.advance(seconds=121)
    [third] = run_once(services)
    assert third.state == "error"  # third of three attempts
    assert len(calls) == 3
    with services.uow() as uow:
        syncs = uow.synchronizations.find(RecordFilter())
    assert [s.outcome for s in syncs] == ["failed"] * 3
    assert reprocess(services, event_id) is True
