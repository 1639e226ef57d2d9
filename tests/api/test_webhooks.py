"""`POST /webhooks/google`: every notification is verified (channel id, token, resource
id; stopped and expired channels refused with 404, nothing queued); a genuine one queues
one read of its item, answered at once, and is recorded as a processed `notify` event;
the secret token never appears in an event, a log line or a response. End to end: the
worker opens the channel, a change in Google notifies `calsync serve`, the read runs and
the reservation appears long before the next poll."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

from calsync.api.app import create_app
from calsync.store.records import RecordFilter
from calsync.worker.channels import keep_channels
from calsync.worker.scheduler import run_forever
from tests.api.conftest import Server, in_two_days, wait_for
from tests.providers.google.conftest import ROOM
from tests.sync.calendars import reservations

pytestmark = pytest.mark.timeout(90)

NOWHERE = "http://127.0.0.1:9/webhooks/google"


def events(services, action=None):
    with services.read() as uow:
        return uow.events.find(RecordFilter(action=action, limit=1000))


@pytest.fixture
def opened(google, make_services):
    """Services with one channel opened (its messages go nowhere), the channel as Google
    knows it (with its token) and a test client of the app."""
    services = make_services(push={"address": NOWHERE})
    keep_channels(services)
    [channel] = google.channels()
    with TestClient(create_app(services)) as client:
        yield services, channel, client


def headers(channel, state="exists", **changes):
    sent = {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Channel-Token": channel["token"],
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-URI": channel["resourceUri"],
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "2",
    }
    sent.update(changes)
    return {key: value for key, value in sent.items() if value is not None}


def test_a_change_queues_one_read_and_records_the_notification(opened):
    services, channel, client = opened
    answer = client.post("/webhooks/google", headers=headers(channel))
    assert answer.status_code == 200
    [read] = events(services, "read")
    assert read.state == "new"
    [notify] = events(services, "notify")
    assert notify.state == "processed"
    assert notify.response == f"read queued: event {read.id}"
    assert channel["resourceId"] in notify.payload
    assert channel["token"] not in notify.payload + notify.provider_payload + notify.response


@pytest.mark.parametrize(
    "changes",
    [
        {"X-Goog-Channel-Token": "not-the-token"},
        {"X-Goog-Channel-Token": None},
        {"X-Goog-Channel-ID": "someone-elses-channel"},
        {"X-Goog-Channel-ID": None},
        {"X-Goog-Resource-ID": "another-resource"},
    ],
)
def test_a_notification_that_is_not_verified_is_refused_and_queues_nothing(opened, changes, caplog):
    services, channel, client = opened
    with caplog.at_level(logging.WARNING, logger="calsync.api.webhooks"):
        answer = client.post("/webhooks/google", headers=headers(channel, **changes))
    assert answer.status_code == 404
    assert events(services) == []
    [line] = [r for r in caplog.records if r.name == "calsync.api.webhooks"]
    assert "refused" in line.getMessage()


def test_the_sync_notice_of_a_new_channel_queues_nothing(opened):
    services, channel, client = opened
    answer = client.post("/webhooks/google", headers=headers(channel, state="sync"))
    assert answer.status_code == 200
    assert events(services, "read") == []
    [notify] = events(services, "notify")
    assert notify.response == "channel opened: nothing to read"


def test_five_notifications_at_once_queue_one_read(google, make_services, port):
    services = make_services()
    with Server(services, port) as server:
        keep_channels(services)
        [channel] = google.channels()
        google.wait_for_deliveries(1)  # the sync notice
        with ThreadPoolExecutor(5) as pool:
            answers = list(
                pool.map(
                    lambda n: httpx.post(
                        f"{server.url}/webhooks/google",
                        headers=headers(channel, **{"X-Goog-Message-Number": str(n)}),
                    ),
                    range(2, 7),
                )
            )
    assert [a.status_code for a in answers] == [200] * 5
    assert len(events(services, "read")) == 1
    assert len(events(services, "notify")) == 6  # the sync notice and the five


def test_a_notification_after_the_channel_stopped_is_refused(opened):
    services, channel, client = opened
    with services.uow() as uow:
        item = uow.items.get("Room A").item
        uow.items.upsert(replace(item, binding=replace(item.binding, active=False)))
        uow.commit()
    keep_channels(services)  # stops it
    assert client.post("/webhooks/google", headers=headers(channel)).status_code == 404
    assert events(services) == []


def test_a_notification_of_an_expired_channel_is_refused(opened, real_clock):
    services, channel, client = opened
    real_clock.advance(days=8)
    assert client.post("/webhooks/google", headers=headers(channel)).status_code == 404
    assert events(services) == []


def test_the_token_appears_in_no_response_event_or_log_line(opened, caplog):
    services, channel, client = opened
    caplog.set_level(logging.DEBUG)
    answers = [
        client.post("/webhooks/google", headers=headers(channel, state=state))
        for state in ("sync", "exists", "not_exists")
    ]
    answers.append(
        client.post("/webhooks/google", headers=headers(channel, **{"X-Goog-Resource-ID": "x"}))
    )
    token = channel["token"]
    assert all(token not in a.text and token not in str(a.headers) for a in answers)
    for event in events(services):
        assert token not in event.payload + event.provider_payload + event.response + event.error
    assert token not in caplog.text


def test_a_change_in_google_reaches_calsync_by_push_long_before_the_next_poll(
    google, make_services, port
):
    services = make_services(poll_seconds=3600)
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(services, 0.2, stop), daemon=True)
    with Server(services, port):
        worker.start()
        try:
            [channel] = wait_for(google.channels)
            # The first poll (never read) runs; then nothing is due for an hour.
            wait_for(lambda: [e for e in events(services, "read") if e.state == "processed"])
            assert reservations(services) == []
            google.put_event(ROOM, in_two_days("Planning"))
            wait_for(lambda: [d for d in google.deliveries if d.resource_state == "exists"])
            [made] = wait_for(lambda: reservations(services))
            assert made.subject == "Planning"
        finally:
            stop.set()
            worker.join(timeout=30)
    exists = [d for d in google.deliveries if d.resource_state == "exists"]
    assert exists[0].status == 200
    assert exists[0].channel_id == channel["id"]
    # The notification's read made the reservation (the room's answer that followed is
    # a change of its own, notified and read again: an echo).
    queued = [e.response for e in events(services, "notify") if "read queued" in e.response]
    first_read = min(int(response.rsplit(" ", 1)[1]) for response in queued)
    with services.read() as uow:
        assert uow.events.get(first_read).state == "processed"
        assert uow.events.get(first_read).synchronization_id is not None
