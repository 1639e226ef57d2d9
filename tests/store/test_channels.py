"""Push channels in the store, on SQLite and PostgreSQL: the token is kept as a hash and
proves a notification; stopped and expired channels and other resources are refused; an
item gets one channel however many keepers ask at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.channels import Refusal, StoredChannel
from calsync.store.tables import ChannelRow

TOKEN = "a-secret-token"


@pytest.fixture
def services(database_url, clock):
    made = start(parse({"database": {"url": database_url}, "items": [{"name": "Room A"}]}), clock)
    yield made
    made.close()


def reserve(services, channel_id="chan-1", token=TOKEN, renew_by=None):
    now = services.clock()
    with services.uow() as uow:
        item_id = uow.items.get("Room A").id
        reserved = uow.channels.reserve(
            item_id,
            "workspace",
            "room@resource",
            channel_id,
            token,
            "https://calsync.example.com/webhooks/google",
            expires_at=now + timedelta(days=7),
            now=now,
            renew_by=renew_by or now + timedelta(days=1),
        )
        uow.commit()
    return reserved


def open_channel(services, channel_id="chan-1", resource_id="res-1"):
    reserve(services, channel_id)
    with services.uow() as uow:
        uow.channels.opened(channel_id, resource_id, services.clock() + timedelta(days=7))
        uow.commit()


def verify(services, channel_id="chan-1", token=TOKEN, resource_id="res-1"):
    with services.uow() as uow:
        return uow.channels.verify(channel_id, token, resource_id, services.clock())


def test_the_token_is_stored_as_a_hash_only(services):
    open_channel(services)
    with services.uow() as uow:
        row = uow.session.scalar(select(ChannelRow))
        assert TOKEN not in repr(vars(row))
        assert len(row.token_hash) == 64


def test_a_notification_with_the_registered_token_and_resource_passes(services):
    open_channel(services)
    found = verify(services)
    assert isinstance(found, StoredChannel)
    assert found.resource_id == "res-1"


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"channel_id": "chan-x"}, Refusal.unknown),
        ({"token": "a-secret-tokeN"}, Refusal.token),
        ({"token": ""}, Refusal.token),
        ({"resource_id": "res-2"}, Refusal.resource),
    ],
)
def test_a_notification_that_does_not_match_is_refused(services, fields, refusal):
    open_channel(services)
    assert verify(services, **fields) == refusal


def test_stopped_and_expired_channels_are_refused(services, clock):
    open_channel(services, "chan-1")
    with services.uow() as uow:
        uow.channels.stop("chan-1", clock())
        uow.commit()
    open_channel(services, "chan-2")
    assert verify(services, "chan-1") == Refusal.stopped
    clock.advance(days=8)
    assert verify(services, "chan-2") == Refusal.expired


def test_an_item_gets_one_channel_while_one_lasts(services, clock):
    assert reserve(services, "chan-1") is not None
    assert reserve(services, "chan-2") is None  # chan-1 lasts past the renewal margin
    clock.advance(days=6, hours=1)  # chan-1 expires within a day: due for renewal
    assert reserve(services, "chan-3") is not None
    with services.uow() as uow:
        assert [c.channel_id for c in uow.channels.unstopped()] == ["chan-1", "chan-3"]
