"""Push channels of Google Calendar: the events.watch request body and the channel its
answer describes (https://developers.google.com/calendar/api/guides/push,
shared/PROVIDERS.md §1.4).

A channel is asked for with `{"id", "type": "web_hook", "address", "token", "params":
{"ttl"}}`; Google answers with an `api#channel` naming the watched `resourceId` and the
`expiration` (milliseconds since the epoch, as a string). Google caps the ttl at its own
maximum, so the answer's expiration, not the ttl asked for, says when it ends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from calsync.errors import ProviderUnavailable
from calsync.providers.base import Channel


def watch_body(address: str, channel_id: str, token: str, ttl_seconds: int) -> bytes:
    body = {
        "id": channel_id,
        "type": "web_hook",
        "address": address,
        "token": token,
        "params": {"ttl": str(ttl_seconds)},
    }
    return json.dumps(body).encode("utf-8")


def stop_body(channel: Channel) -> bytes:
    return json.dumps({"id": channel.id, "resourceId": channel.resource_id}).encode("utf-8")


def channel_of(answer: dict[str, Any], channel_id: str, token: str, calendar: str) -> Channel:
    """The channel an events.watch answer describes; ProviderUnavailable if it names
    another channel or lacks the resource id or expiration."""
    what = f"watching {calendar}"
    resource_id, expiration = answer.get("resourceId"), answer.get("expiration")
    if answer.get("id") != channel_id:
        raise ProviderUnavailable(f"{what}: Google answered for another channel")
    if not isinstance(resource_id, str) or not resource_id:
        raise ProviderUnavailable(f"{what}: Google's answer names no resourceId")
    try:
        expires_at = datetime.fromtimestamp(int(str(expiration)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ProviderUnavailable(f"{what}: Google's answer has no valid expiration") from None
    return Channel(channel_id, resource_id, token, expires_at)
