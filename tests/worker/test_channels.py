"""The worker keeps push channels: one per active Google binding while `[push] address`
is set, renewed before expiry with the new channel open before the old one stops, and
stopped when its binding goes inactive or push is turned off; failures are logged and
tried again, never fatal."""

# ruff: noqa: F811 - the fixtures are tests/api's, imported by name

from __future__ import annotations

from dataclasses import replace

import pytest

from calsync.worker.channels import keep_channels
from tests.api.conftest import google, make_services, port, real_clock  # noqa: F401
from tests.providers.google.conftest import ROOM

pytestmark = pytest.mark.timeout(60)


def stored_channels(services):
    with services.read() as uow:
        return uow.channels.find()


def test_an_active_google_binding_gets_one_channel(google, make_services):
    services = make_services()
    report = keep_channels(services)
    [live] = google.channels()
    assert report.opened == [live["id"]]
    assert live["calendarId"] == ROOM
    assert live["address"] == services.settings.push.address
    [stored] = stored_channels(services)
    assert (stored.channel_id, stored.resource_id) == (live["id"], live["resourceId"])
    assert keep_channels(services).opened == []  # it lasts: nothing more is opened
    assert len(google.channels()) == 1


def test_without_an_address_no_channel_is_opened(google, make_services):
    services = make_services(push={"address": ""})
    assert keep_channels(services).opened == []
    assert google.channels() == []


def test_renewal_opens_the_new_channel_before_stopping_the_old_one(
    google, make_services, real_clock
):
    services = make_services(push={"ttl_seconds": 3600, "renew_before_seconds": 600})
    [old] = keep_channels(services).opened
    google.reset_counters()
    real_clock.advance(seconds=3600 - 590)  # within the renewal margin
    report = keep_channels(services)
    [new] = report.opened
    assert report.stopped == [old]
    operations = [r.operation for r in google.requests if r.operation != "token"]
    assert operations == ["events.watch", "channels.stop"]  # an overlap, never a gap
    assert [c["id"] for c in google.channels()] == [new]
    by_id = {c.channel_id: c for c in stored_channels(services)}
    assert by_id[old].stopped_at is not None
    assert by_id[new].stopped_at is None


def test_a_binding_made_inactive_stops_its_channel(google, make_services):
    services = make_services()
    [opened] = keep_channels(services).opened
    with services.uow() as uow:
        item = uow.items.get("Room A").item
        assert item.binding is not None
        uow.items.upsert(replace(item, binding=replace(item.binding, active=False)))
        uow.commit()
    assert keep_channels(services).stopped == [opened]
    assert google.channels() == []
    [stored] = stored_channels(services)
    assert stored.stopped_at is not None


def test_turning_push_off_stops_the_channels(google, make_services):
    [opened] = keep_channels(make_services()).opened
    services = make_services(push={"address": ""})
    assert keep_channels(services).stopped == [opened]
    assert google.channels() == []


def test_a_failed_watch_is_logged_and_tried_again(google, make_services, caplog):
    services = make_services()
    google.fail_next(1, status=503, reason="backendError", operations=["events.watch"])
    report = keep_channels(services)
    assert len(report.failed) == 1
    assert google.channels() == []
    assert "opening a push channel failed" in caplog.text
    [opened] = keep_channels(services).opened
    assert [c["id"] for c in google.channels()] == [opened]
