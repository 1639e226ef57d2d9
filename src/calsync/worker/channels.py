"""Keeping push channels: `keep_channels(services)`, run by the worker's ticker
(`ChannelUpkeep`, at start and then once a minute).

With `[push] address` set, every active binding on a connection whose adapter declares
push (`Capabilities.push`) has one open channel that notifies that address. A channel
due to expire within `push.renew_before_seconds` is renewed: the new channel opens first
and the old one stops after it, so the two overlap and no change goes unnoticed in
between (shared/PROVIDERS.md §1.4). Channels of bindings gone, made inactive or moved to
another calendar, and all of them when push is turned off, are stopped: orphaned
channels pile up otherwise. A stopped channel's notifications are refused
(`calsync.api.webhooks`). Push is only a hint: polling goes on whatever happens here,
so every failure is logged and tried again at the next upkeep, never fatal.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from calsync.bootstrap import Services
from calsync.errors import CalsyncError, ConfigError, ProviderRejected
from calsync.providers import load
from calsync.providers.base import Channel
from calsync.store.channels import StoredChannel

log = logging.getLogger("calsync.worker.channels")

#: A channel recorded but never completed (its worker died while asking for it) is
#: given up after this long; the provider ends it at its expiry.
_UNANSWERED = timedelta(minutes=10)


@dataclass(frozen=True)
class Target:
    """Where an item's channel should point: its binding's connection and calendar."""

    item_id: int
    item: str
    connection: str
    calendar: str


@dataclass
class ChannelReport:
    opened: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def keep_channels(services: Services) -> ChannelReport:
    """Open the channels missing or due for renewal, then stop those no longer wanted
    (renewed ones included); the channel ids opened, stopped and failed."""
    report = ChannelReport()
    targets = _targets(services)
    renew_by = services.clock() + timedelta(seconds=services.settings.push.renew_before_seconds)
    with services.read() as uow:
        lasting = {
            (c.item_id, c.connection, c.calendar, c.address)
            for c in uow.channels.unstopped()
            if c.expires_at > renew_by
        }
    address = services.settings.push.address
    for target in targets.values():
        if (target.item_id, target.connection, target.calendar, address) not in lasting:
            _open(services, target, report)  # checked again as it is recorded
    with services.read() as uow:
        channels = uow.channels.unstopped()
    for channel in channels:
        why = _unwanted(services, channel, channels, targets)
        if why:
            _stop(services, channel, why, report)
    return report


def _targets(services: Services) -> dict[int, Target]:
    """The items that should have a channel, by item id."""
    if not services.settings.push.address:
        return {}
    with services.read() as uow:
        items = uow.items.all()
    targets = {}
    for stored in items:
        binding = stored.item.binding
        if binding is None or not binding.active:
            continue
        connection = services.settings.connections.get(binding.connection)
        if connection is not None and load(connection.kind).capabilities.push:
            targets[stored.id] = Target(
                stored.id, stored.item.name, binding.connection, binding.calendar
            )
    return targets


def _open(services: Services, target: Target, report: ChannelReport) -> None:
    settings, now = services.settings.push, services.clock()
    channel_id, token = uuid.uuid4().hex, secrets.token_urlsafe(32)
    with services.uow() as uow:
        reserved = uow.channels.reserve(
            target.item_id,
            target.connection,
            target.calendar,
            channel_id,
            token,
            settings.address,
            expires_at=now + timedelta(seconds=settings.ttl_seconds),
            now=now,
            renew_by=now + timedelta(seconds=settings.renew_before_seconds),
        )
        uow.commit()
    if reserved is None:
        return  # one lasts long enough
    try:
        provider = services.provider(target.connection)
        opened = provider.watch(
            target.calendar, settings.address, channel_id, token, settings.ttl_seconds
        )
    except CalsyncError as exc:
        log.warning("item %s: opening a push channel failed: %s", target.item, exc)
        with services.uow() as uow:
            uow.channels.stop(channel_id, services.clock())
            uow.commit()
        report.failed.append(channel_id)
        return
    with services.uow() as uow:
        uow.channels.opened(channel_id, opened.resource_id, opened.expires_at)
        uow.commit()
    log.info(
        "item %s: push channel %s open until %s",
        target.item,
        channel_id,
        opened.expires_at.isoformat(),
    )
    report.opened.append(channel_id)


def _unwanted(
    services: Services,
    channel: StoredChannel,
    channels: list[StoredChannel],
    targets: dict[int, Target],
) -> str:
    """Why `channel` should stop ("" if it should not)."""
    now = services.clock()
    target = targets.get(channel.item_id)
    if channel.expires_at <= now:
        return "expired"
    if channel.resource_id is None:
        return "never answered" if channel.created_at + _UNANSWERED <= now else ""
    if target is None:
        return "its binding is gone or inactive, or push is off"
    if (channel.connection, channel.calendar, channel.address) != (
        target.connection,
        target.calendar,
        services.settings.push.address,
    ):
        return "its binding or the push address changed"
    successor = any(
        other.item_id == channel.item_id
        and other.id > channel.id
        and other.resource_id is not None
        and other.expires_at > channel.expires_at
        and (other.connection, other.calendar, other.address)
        == (channel.connection, channel.calendar, channel.address)
        for other in channels
    )
    return "renewed" if successor else ""


def _stop(services: Services, channel: StoredChannel, why: str, report: ChannelReport) -> None:
    """Stop a channel at its provider (unless it ended by itself), then in the store.

    A refusal (the provider does not know it, the connection is gone) stops it in the
    store all the same; a provider unreachable leaves it for the next upkeep."""
    if why not in ("expired", "never answered"):
        try:
            provider = services.provider(channel.connection)
            provider.stop_watch(
                Channel(channel.channel_id, channel.resource_id or "", "", channel.expires_at)
            )
        except (ProviderRejected, ConfigError) as exc:  # refused, or its connection gone
            log.warning("push channel %s: stopping it was refused: %s", channel.channel_id, exc)
        except CalsyncError as exc:
            log.warning("push channel %s: stopping it failed: %s", channel.channel_id, exc)
            report.failed.append(channel.channel_id)
            return
    with services.uow() as uow:
        uow.channels.stop(channel.channel_id, services.clock())
        uow.commit()
    log.info("push channel %s stopped: %s", channel.channel_id, why)
    report.stopped.append(channel.channel_id)


class ChannelUpkeep:
    """The worker's share of `[push]`: `keep_channels` at start, then once an interval."""

    def __init__(self, services: Services, interval: timedelta = timedelta(minutes=1)) -> None:
        self.services, self.interval = services, interval
        self.last: datetime | None = None

    def keep_if_due(self) -> None:
        now = self.services.clock()
        if self.last is not None and now < self.last + self.interval:
            return
        self.last = now
        try:
            keep_channels(self.services)
        except (CalsyncError, SQLAlchemyError) as exc:
            log.warning("keeping push channels failed, tried again in a minute: %s", exc)
