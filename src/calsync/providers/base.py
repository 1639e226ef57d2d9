"""The provider interface: the one seam between calsync and a calendar service.

Terms:
- *calendar*: the provider's address of one room calendar (a CalDAV collection URL).
- *provider id*: where one calendar object lives (a CalDAV href, a Google event id).
- *version*: the provider's version of that object (etag, change key) for conditional
  writes and echo suppression.
- *delta key*: the opaque cursor for "changes since" (RFC 6578 sync-token, Google
  nextSyncToken, Graph deltaLink, EWS SyncState). None asks for a full listing.

Nothing above an adapter sees XML, JSON shapes or HTTP status codes: adapters return these
values and raise `calsync.errors.ProviderError` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class Exchange:
    """What went over the wire in one adapter call, kept on the event."""

    request: str
    response: str
    requests: int = 1
    bytes_sent: int = 0
    bytes_received: int = 0


@dataclass(frozen=True)
class RemoteChange:
    """One changed or removed calendar object, with its payload as the provider sent it.

    `refused` says why the adapter would not touch an object the provider named (an href
    outside the connection's origin or calendar): nothing of it was fetched, and the
    caller records it as one failed calendar item with that reason. Its `provider_id` is
    then the name as the provider gave it, not a provider id of this connection.
    """

    provider_id: str
    version: str | None
    removed: bool = False
    data: bytes | None = None
    refused: str | None = None


@dataclass(frozen=True)
class ChangeBatch:
    """The result of one read.

    When `full` is true the changes list every live object of the calendar: whatever is
    not in it is gone (the caller decides whether to believe an empty listing).
    `delta_key` is the key to start the next read from.
    """

    changes: tuple[RemoteChange, ...]
    delta_key: str | None
    full: bool
    exchange: Exchange = field(default_factory=lambda: Exchange("", "", 0))


@dataclass(frozen=True)
class WriteResult:
    """Where a written object now lives and its new version (None if the server gave none)."""

    provider_id: str
    version: str | None
    exchange: Exchange


#: Called with each page of changes as it arrives, before the read is complete, so that
#: the caller can record, read and apply them while the provider sends the next page.
ChangesSeen = Callable[[Sequence[RemoteChange]], None]


class Provider(Protocol):
    """One calendar service account. Every method is synchronous and may raise ProviderError."""

    kind: ClassVar[str]

    def fetch_changes(
        self, calendar: str, delta_key: str | None, on_changes: ChangesSeen | None = None
    ) -> ChangeBatch:
        """Changes since `delta_key`, or a full listing when it is None.

        Raises DeltaKeyExpired when the key is no longer valid. `on_changes` may be called
        with pages of the changes while the read goes on; the batch returned is the truth.
        """
        ...

    def create(self, calendar: str, uid: str, data: bytes) -> WriteResult:
        """Create a new object; fails rather than overwrite an existing one."""
        ...

    def update(
        self, calendar: str, provider_id: str, data: bytes, version: str | None
    ) -> WriteResult:
        """Replace an object, only if it still has `version` (when given)."""
        ...

    def delete(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        """Delete an object, only if it still has `version` (when given)."""
        ...

    def get(self, calendar: str, provider_id: str) -> RemoteChange:
        """The current payload and version of one object."""
        ...

    def locate(self, calendar: str, uid: str) -> str:
        """The provider id that `create(calendar, uid, ...)` gives the object: where to
        look for a create that may have landed before its run was cut short."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
