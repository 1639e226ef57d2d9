"""The Google adapter's push channels against the emulator: events.watch opens a channel
whose notifications carry its id and token, channels.stop closes it; adapters without
push refuse both."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from calsync.errors import ProviderRejected
from calsync.providers.base import Channel
from calsync.providers.memory import InMemoryProvider
from tests.providers.google.conftest import ROOM, timed

pytestmark = pytest.mark.timeout(60)

#: Nothing listens there: deliveries fail, which the emulator records all the same.
NOWHERE = "http://127.0.0.1:9/webhooks/google"


def test_watch_opens_a_channel_that_notifies_with_its_id_and_token(google, provider):
    channel = provider.watch(ROOM, NOWHERE, "chan-1", "s3cret", 3600)
    assert channel.id == "chan-1"
    assert channel.token == "s3cret"
    [live] = google.channels()
    assert live["resourceId"] == channel.resource_id
    assert live["address"] == NOWHERE
    soon = datetime.now(UTC) + timedelta(seconds=3600)
    assert abs(channel.expires_at - soon) < timedelta(seconds=30)
    google.put_event(ROOM, timed(3, 10, summary="Planning"))
    sync, change = google.wait_for_deliveries(2)
    assert (sync.resource_state, change.resource_state) == ("sync", "exists")
    assert change.headers["X-Goog-Channel-ID"] == "chan-1"
    assert change.headers["X-Goog-Channel-Token"] == "s3cret"
    assert change.headers["X-Goog-Resource-ID"] == channel.resource_id


def test_stop_watch_closes_the_channel_and_a_second_stop_is_fine(google, provider):
    channel = provider.watch(ROOM, NOWHERE, "chan-1", "s3cret", 3600)
    provider.stop_watch(channel)
    assert google.channels() == []
    provider.stop_watch(channel)  # Google no longer knows it: stopped already
    google.wait_for_deliveries(1)
    google.put_event(ROOM, timed(3, 10, summary="Planning"))
    time.sleep(0.2)
    assert [d.resource_state for d in google.deliveries] == ["sync"]


def test_the_channel_never_shows_its_token():
    channel = Channel("chan-1", "res-1", "s3cret", datetime(2026, 1, 1, tzinfo=UTC))
    assert "s3cret" not in repr(channel)
    assert "s3cret" not in str(channel)


def test_an_adapter_without_push_refuses_to_watch():
    memory = InMemoryProvider()
    assert not memory.capabilities.push
    with pytest.raises(ProviderRejected, match="no push"):
        memory.watch("/c/", NOWHERE, "chan-1", "s3cret", 3600)
    with pytest.raises(ProviderRejected):
        memory.stop_watch(Channel("chan-1", "res", "s3cret", datetime(2026, 1, 1, tzinfo=UTC)))


def test_google_declares_push(provider):
    assert provider.capabilities.push
