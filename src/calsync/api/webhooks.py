"""Webhooks for provider push notifications: `POST /webhooks/google` (`webhook_router`),
and `receive_google(services, notification)`, which decides what one notification does.

A Google notification is an empty POST whose headers say everything
(https://developers.google.com/calendar/api/guides/push, shared/PROVIDERS.md §1.4). It
is verified on every arrival: its channel (X-Goog-Channel-ID) must be one calsync opened
(`calsync.worker.channels`), not stopped nor expired, and carry that channel's secret
token (X-Goog-Channel-Token, compared by hash) and resource id (X-Goog-Resource-ID).
Anything else is answered 404 with nothing queued, and one log line says why (never the
token).

Push is only a hint: an accepted `exists` or `not_exists` notification queues a read of
the channel's item, like a poll would, and is answered at once; the worker synchronizes
later. A read already waiting serves it, so a burst of notifications queues one read. A
`sync` notification (the channel was just opened) queues nothing. Each accepted
notification is recorded as one processed `notify` event with its headers, minus the
token, so admins see it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from calsync.bootstrap import Services
from calsync.domain.events import Action, EventState
from calsync.store.channels import Refusal, StoredChannel
from calsync.store.unit_of_work import UnitOfWork

log = logging.getLogger("calsync.api.webhooks")

#: Calendar's resource states that say the calendar changed (or is gone).
_CHANGED = frozenset({"exists", "not_exists"})


@dataclass(frozen=True)
class Notification:
    """One Google push notification, from its headers."""

    channel_id: str
    token: str
    resource_id: str
    resource_state: str
    message_number: str = ""
    resource_uri: str = ""
    channel_expiration: str = ""

    def shown(self) -> dict[str, str]:
        """The headers kept on the notify event: all but the token."""
        return {
            "X-Goog-Channel-ID": self.channel_id,
            "X-Goog-Channel-Expiration": self.channel_expiration,
            "X-Goog-Resource-ID": self.resource_id,
            "X-Goog-Resource-URI": self.resource_uri,
            "X-Goog-Resource-State": self.resource_state,
            "X-Goog-Message-Number": self.message_number,
        }


@dataclass(frozen=True)
class Accepted:
    """A notification accepted: the notify event recorded, and the read it queued (or the
    waiting read that serves it); None for a notification that asks for no read."""

    notify_event_id: int
    read_event_id: int | None


def receive_google(services: Services, notification: Notification) -> Accepted | Refusal:
    """Verify a notification and, if it is genuine, record it and queue a read of its
    channel's item; why not otherwise. One transaction, no provider call."""
    now = services.clock()
    with services.uow() as uow:
        verdict = uow.channels.verify(
            notification.channel_id, notification.token, notification.resource_id, now
        )
        opening = isinstance(verdict, StoredChannel) and verdict.resource_id is None
        if opening and notification.resource_state != "sync":
            # Opened a moment ago, its answer not stored yet: only its opening notice counts.
            verdict = Refusal.resource
        if isinstance(verdict, Refusal):
            _refused(notification, verdict)
            return verdict
        stored = uow.items.by_id(verdict.item_id)
        binding = stored.item.binding
        if binding is None or not binding.active or binding.calendar != verdict.calendar:
            _refused(notification, Refusal.unbound)
            return Refusal.unbound
        read_id = None
        if notification.resource_state in _CHANGED:
            payload = {"item": stored.item.name, "full": False, "confirm_sweep": False}
            read_id = uow.events.queue_read(stored.id, now, payload, hint=True)
        notify_id = _record(uow, verdict, notification, read_id, now)
        uow.commit()
    return Accepted(notify_id, read_id)


def _record(
    uow: UnitOfWork,
    channel: StoredChannel,
    notification: Notification,
    read_id: int | None,
    now: datetime,
) -> int:
    """One processed notify event: the headers as payload and provider payload."""
    shown = notification.shown()
    row = uow.events.add(
        channel.item_id, Action.notify, now, {"channel": channel.channel_id, "headers": shown}
    )
    row.provider_payload = json.dumps(shown, indent=2)
    if read_id is not None:
        row.response = f"read queued: event {read_id}"
    elif notification.resource_state == "sync":
        row.response = "channel opened: nothing to read"
    else:
        row.response = f"resource state {notification.resource_state!r}: nothing to read"
    row.state = EventState.processed.value
    uow.session.flush()
    return row.id


def _refused(notification: Notification, why: Refusal) -> None:
    log.warning(
        "google notification refused: %s (channel %r, state %r)",
        why.value,
        notification.channel_id[:64],
        notification.resource_state[:20],
    )


def webhook_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    @router.post(
        "/google",
        responses={200: {"description": "Accepted"}, 404: {"description": "Not a channel"}},
    )
    def google(  # a plain def: FastAPI runs it in its thread pool, beside the event loop
        x_goog_channel_id: Annotated[str, Header()] = "",
        x_goog_channel_token: Annotated[str, Header()] = "",
        x_goog_resource_id: Annotated[str, Header()] = "",
        x_goog_resource_state: Annotated[str, Header()] = "",
        x_goog_message_number: Annotated[str, Header()] = "",
        x_goog_resource_uri: Annotated[str, Header()] = "",
        x_goog_channel_expiration: Annotated[str, Header()] = "",
    ) -> Response:
        """A Google Calendar push notification: verified, recorded, a read queued."""
        outcome = receive_google(
            services,
            Notification(
                x_goog_channel_id,
                x_goog_channel_token,
                x_goog_resource_id,
                x_goog_resource_state,
                x_goog_message_number,
                x_goog_resource_uri,
                x_goog_channel_expiration,
            ),
        )
        if isinstance(outcome, Refusal):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return JSONResponse({"notify_event": outcome.notify_event_id})

    return router
