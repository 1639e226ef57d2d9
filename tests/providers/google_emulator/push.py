"""Push notification channels (`events.watch`, `channels.stop`) and their deliveries.

Follows the push guide (https://developers.google.com/calendar/api/guides/push) and
shared/PROVIDERS.md §1.4: a channel is created by POST .../events/watch with
`{"id", "type": "web_hook", "address", "token"?, "expiration"?, "params": {"ttl"}}`; the
answer is an `api#channel` with `resourceId`, `resourceUri` and `expiration` (ms since the
epoch, as a string). A `sync` message follows at once, then an `exists` message after each
change of the watched calendar. A message is an empty-bodied POST to the address whose
only content is its headers: X-Goog-Channel-ID, X-Goog-Channel-Token (when a token was
given), X-Goog-Channel-Expiration (RFC 1123), X-Goog-Resource-ID, X-Goog-Resource-URI,
X-Goog-Resource-State, X-Goog-Message-Number. Expired and stopped channels send nothing.

Messages go out from one background thread, in order, so that a test can wait for them.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import httpx

from .errors import GoogleError, invalid

DEFAULT_TTL = 7 * 24 * 3600


@dataclass
class Channel:
    id: str
    calendar_id: str
    resource_id: str
    resource_uri: str
    address: str
    token: str | None
    expiration_ms: int
    messages: int = 0
    stopped: bool = False

    def live(self) -> bool:
        return not self.stopped and self.expiration_ms > time.time() * 1000

    def describe(self) -> dict[str, Any]:
        """The `api#channel` resource events.watch answers with."""
        answer: dict[str, Any] = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(self.expiration_ms),
        }
        if self.token is not None:
            answer["token"] = self.token
        return answer


@dataclass(frozen=True)
class Delivery:
    """One notification sent (or dropped): its headers and how the receiver answered."""

    channel_id: str
    resource_state: str
    message_number: int
    address: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    error: str | None = None


def parse_watch(body: Any) -> tuple[str, str, str | None, int]:
    """(id, address, token, expiration ms) of a watch request body, or a 400."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    channel_id, address = body.get("id"), body.get("address")
    if not isinstance(channel_id, str) or not channel_id or len(channel_id) > 64:
        raise GoogleError(400, "required", "Channel id must be a string of at most 64 chars.")
    if body.get("type") not in ("web_hook", "webhook"):
        raise invalid("Unsupported channel type.", location="type")
    if not isinstance(address, str) or not address.startswith(("https://", "http://")):
        raise invalid("WebHook callback must be HTTPS: " + str(address), location="address")
    now_ms = int(time.time() * 1000)
    ttl = (body.get("params") or {}).get("ttl")
    try:
        if ttl is not None:
            expiration = now_ms + int(ttl) * 1000
        elif body.get("expiration") is not None:
            expiration = int(body["expiration"])
        else:
            expiration = now_ms + DEFAULT_TTL * 1000
    except (TypeError, ValueError):
        raise invalid("Invalid channel expiration or ttl.") from None
    return channel_id, address, body.get("token"), expiration


class Notifier:
    """Sends notification POSTs from one background thread and records each delivery."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        #: (channel, headers, dropped); None stops the thread.
        self._queue: queue.Queue[tuple[Channel, dict[str, str], bool] | None] = queue.Queue()
        self._changed = threading.Condition()
        self._drop = 0
        self._thread: threading.Thread | None = None

    def drop_next(self, count: int) -> None:
        self._drop += count

    def send(self, channel: Channel, state: str) -> None:
        """Queue one message; call with the emulator's lock held, so numbers stay in order."""
        channel.messages += 1
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": formatdate(channel.expiration_ms / 1000, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.messages),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        dropped = self._drop > 0
        self._drop -= dropped
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="google-push", daemon=True)
            self._thread.start()
        self._queue.put((channel, headers, dropped))

    def wait(self, count: int, timeout: float) -> list[Delivery]:
        """The deliveries so far, once there are at least `count` (or after `timeout`)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while (job := self._queue.get()) is not None:
                channel, headers, dropped = job
                if dropped:
                    self._record(channel, headers, None, "dropped")
                    continue
                try:
                    status = client.post(channel.address, headers=headers, content=b"").status_code
                except httpx.HTTPError as exc:
                    self._record(channel, headers, None, f"{type(exc).__name__}: {exc}")
                else:
                    self._record(channel, headers, status, None)

    def _record(
        self, channel: Channel, headers: dict[str, str], status: int | None, error: str | None
    ) -> None:
        delivery = Delivery(
            channel.id,
            headers["X-Goog-Resource-State"],
            int(headers["X-Goog-Message-Number"]),
            channel.address,
            headers,
            status,
            error,
        )
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
