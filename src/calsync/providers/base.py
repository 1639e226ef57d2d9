"""The provider interface: the one seam between calsync and a calendar service.

It speaks the domain's words. Reading: changed and removed calendar objects, each with
its provider id, version and the provider payload exactly as received; the adapter's
`object_reader()` turns such a payload into the domain's provider-neutral `CalendarObject`
(iCalendar is the CalDAV adapter's business, Google's JSON the Google adapter's).
Writing: `book` (create from a reservation), `rebook` (move, shorten, rename: the whole
object calsync owns), `cancel`, and `edit` of an object calsync does not own: answer as
the room, cancel or move one occurrence. Each adapter carries these out the way its
service does, with its own optimistic concurrency, and reports "changed meanwhile" as
`ProviderRejected` with status 412 (or 404/410 when the object is gone), which the sync
layer handles once (`calsync.sync.conflicts`). What an adapter can do is declared in
`Capabilities`, never asked as "which kind is it".

Series: where the service lists each instance of a series as an object of its own
(`Capabilities.answers_series`), `series_of` names the object that is an instance's
series and `instances` lists that series' instances as they are now; a `RoomAnswer`
edit of the series object answers every instance that is not an exception of its own
(`calsync.sync.series`). Adapters whose objects each hold their whole series inherit
`WholeSeries`: no object of theirs is an instance of another.

Terms:
- *calendar*: the provider's address of one room calendar (a CalDAV collection URL).
- *provider id*: where one calendar object lives (a CalDAV href, a Google event id).
- *version*: the provider's version of that object (etag, change key) for conditional
  writes and echo suppression.
- *delta key*: the opaque cursor for "changes since" (RFC 6578 sync-token, Google
  nextSyncToken, Graph deltaLink, EWS SyncState). None asks for a full listing.

Push: where `Capabilities.push` holds, `watch` opens a notification channel on a calendar
(Google's events.watch) and `stop_watch` closes it; a notification is only a hint to read
the calendar again. Adapters without push inherit `NoPush`, which refuses both.

Nothing above an adapter sees XML, JSON shapes or HTTP status codes: adapters return these
values and raise `calsync.errors.ProviderError` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from calsync.domain.entries import CalendarObject, Window
from calsync.errors import ProviderRejected


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
    """Where a written object now lives and its new version (None if the server gave none).

    `room_answer`: where the service's room decides (`Capabilities.room_decides`), its
    answer to a booking as the write's response shows it (ACCEPTED, DECLINED, TENTATIVE),
    None while it has not answered."""

    provider_id: str
    version: str | None
    exchange: Exchange
    room_answer: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What an adapter's service does, for the layers above to ask instead of its kind.

    - `delta_keys`: reads return a delta key for "changes since" (else every read is a
      full listing compared by version).
    - `push`: the service can notify calsync of changes (watch channels, subscriptions).
    - `expands_instances`: the service lists each occurrence of a series as an object of
      its own (Google with `singleEvents`), so a series edit is an edit of one instance.
    - `room_decides`: the service's room resource accepts or declines on its own, so a
      booking sent waits for its answer (`awaiting_confirmation`).
    - `cheap_to_read`: the adapter's `object_reader()` reads a payload in less time than
      sending it to another process and its calendar object back would take (Google's
      JSON), so payloads are read in the synchronizing process, never by a pool of
      processes (which iCalendar, costly to parse, is worth).
    - `answers_series`: the room's answer to the instances of a series can be written
      once, on the series (`series_of`, `instances`), instead of instance by instance
      (where each answered instance becomes an exception that no longer follows its
      series).
    """

    delta_keys: bool = True
    push: bool = False
    expands_instances: bool = False
    room_decides: bool = False
    cheap_to_read: bool = False
    answers_series: bool = False


@dataclass(frozen=True)
class Booking:
    """A reservation made in calsync, as the whole calendar object calsync writes for it:
    the room as its attendee, having accepted. Times are UTC instants; `zone` is the
    item's time zone (the wall time written, and the day of an all-day booking)."""

    uid: str
    start: datetime
    end: datetime
    all_day: bool
    zone: str
    subject: str
    organizer: str
    room_address: str
    room_name: str
    sequence: int
    written_at: datetime


@dataclass(frozen=True)
class RoomAnswer:
    """The room accepts, declines or tentatively accepts someone's meeting (`partstat`:
    ACCEPTED, DECLINED or TENTATIVE, the RFC 5545 names the domain uses); of an accepted
    series, it declines the occurrences `declined` (their original starts, UTC) one by
    one."""

    room_address: str
    partstat: str
    written_at: datetime
    declined: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class OccurrenceCancel:
    """One occurrence (by its original start, a UTC instant) leaves someone's series."""

    recurrence_id: datetime
    written_at: datetime


@dataclass(frozen=True)
class OccurrenceMove:
    """One occurrence of someone's series (or their single meeting, `recurrence_id`
    None) moves to another span, keeping its identity."""

    recurrence_id: datetime | None
    start: datetime
    end: datetime
    subject: str
    zone: str
    written_at: datetime


@dataclass(frozen=True)
class CalendarCheck:
    """What `check` found of one calendar: it answered, whether it hands out delta keys
    (else every read lists it whole), and what the service said of it."""

    delta_keys: bool
    detail: str


@dataclass(frozen=True)
class Channel:
    """A push notification channel on one calendar: the id calsync chose, the provider's
    id of the watched resource, the secret token each notification must carry, and when
    the provider stops sending (a UTC instant)."""

    id: str
    resource_id: str
    token: str
    expires_at: datetime

    def __repr__(self) -> str:  # the token is a secret: never in a log line or traceback
        return (
            f"Channel(id={self.id!r}, resource_id={self.resource_id!r}, token=<hidden>,"
            f" expires_at={self.expires_at.isoformat()})"
        )


#: An edit of an object calsync does not own: only what calsync is entitled to changes.
Edit = RoomAnswer | OccurrenceCancel | OccurrenceMove

#: Reads one provider payload (as a calendar item keeps it) into the domain's form for
#: an item in time zone `zone` within `window`; raises InvalidCalendarData. A module-level
#: function, so that a pool of processes can run it.
ObjectReaderFunction = Callable[[str, str, Window], CalendarObject]


#: Called with each page of changes as it arrives, before the read is complete, so that
#: the caller can record, read and apply them while the provider sends the next page.
ChangesSeen = Callable[[Sequence[RemoteChange]], None]


class Provider(Protocol):
    """One calendar service account. Every method is synchronous and may raise ProviderError."""

    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def object_reader(self) -> ObjectReaderFunction:
        """The module-level function that reads this adapter's payloads."""
        ...

    def fetch_changes(
        self,
        calendar: str,
        delta_key: str | None,
        on_changes: ChangesSeen | None = None,
        since: datetime | None = None,
    ) -> ChangeBatch:
        """Changes since `delta_key`, or a full listing when it is None.

        Raises DeltaKeyExpired when the key is no longer valid. `on_changes` may be called
        with pages of the changes while the read goes on; the batch returned is the truth.
        `since`: a full listing may leave out what ended before then (Google's `timeMin`;
        the caller sweeps nothing that ended before it).
        """
        ...

    def get(self, calendar: str, provider_id: str) -> RemoteChange:
        """The current payload and version of one object (404/410 when it is gone)."""
        ...

    def check(self, calendar: str) -> CalendarCheck:
        """Prove the credentials and that `calendar` answers, cheaply (nothing is listed);
        raises ProviderError saying what failed."""
        ...

    def uid_of(self, data: bytes) -> str:
        """The iCalendar UID an object's payload carries (Google's `iCalUID`)."""
        ...

    def payload_of(self, booking: Booking) -> str:
        """The provider payload `book` and `rebook` send for `booking` (kept on the event,
        also when a dry run sends nothing)."""
        ...

    def book(self, calendar: str, booking: Booking) -> WriteResult:
        """Create calsync's object for a booking; ObjectExists rather than overwrite one
        already at its place (a create that landed before its run was cut short)."""
        ...

    def rebook(
        self, calendar: str, provider_id: str, booking: Booking, version: str | None
    ) -> WriteResult:
        """Replace calsync's own object with `booking`, only if it still has `version`."""
        ...

    def cancel(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        """Delete an object, only if it still has `version`; one already gone is fine."""
        ...

    def edit(
        self, calendar: str, provider_id: str, version: str, base: bytes | None, edit: Edit
    ) -> WriteResult:
        """Apply `edit` to the object at `version` and write it only if it still has that
        version. `base` is its payload at `version` as read (an adapter that rewrites
        whole objects edits it; one that patches fields may ignore it). An edit that
        leaves nothing (the one occurrence a room was invited to, cancelled) deletes the
        object: the result's version is then None."""
        ...

    def locate(self, calendar: str, uid: str) -> str:
        """The provider id that `book` gives the object of `uid`: where to look for a
        create that may have landed before its run was cut short."""
        ...

    def series_of(self, data: bytes) -> str | None:
        """The provider id of the series whose instance the payload `data` is, where the
        service lists instances as objects of their own; None for any other object."""
        ...

    def instances(self, calendar: str, series_id: str, window: Window) -> list[RemoteChange]:
        """The live instances of the series `series_id` that overlap `window`, each with
        its version and payload, as the calendar holds them now. ProviderRejected with
        404 or 410 when the series is gone or cannot be seen."""
        ...

    def watch(
        self, calendar: str, address: str, channel_id: str, token: str, ttl_seconds: int
    ) -> Channel:
        """Open a push channel: the service POSTs a notification carrying `channel_id` and
        `token` to `address` whenever `calendar` changes, for about `ttl_seconds`.
        ProviderRejected where the service has no push (`Capabilities.push` False)."""
        ...

    def stop_watch(self, channel: Channel) -> None:
        """Close a channel; one the service no longer knows is fine."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def credentials_refused(exc: ProviderRejected, connection: str) -> ProviderRejected:
    """A 401 is the connection's credentials refused, whichever calendar was read or
    written: the error names the connection (whose settings hold them) for the admin to
    fix. Any other error, or one already naming it, is returned as it is."""
    named = f"connection {connection!r}: "
    if type(exc) is not ProviderRejected or exc.status != 401 or str(exc).startswith(named):
        return exc
    return ProviderRejected(f"{named}credentials refused: {exc}", 401)


class WholeSeries:
    """`series_of` and `instances` of an adapter whose objects each hold a whole series
    (its instances are no objects of their own)."""

    kind: ClassVar[str]

    def series_of(self, data: bytes) -> str | None:  # noqa: ARG002 - the seam's signature
        return None

    def instances(
        self,
        calendar: str,  # noqa: ARG002 - the seam's signature
        series_id: str,
        window: Window,  # noqa: ARG002
    ) -> list[RemoteChange]:
        raise ProviderRejected(
            f"{self.kind} calendars keep a series whole in one object: {series_id} has no "
            "instances of its own"
        )


class NoPush:
    """`watch` and `stop_watch` of an adapter whose service cannot notify calsync."""

    kind: ClassVar[str]

    def watch(
        self,
        calendar: str,
        address: str,  # noqa: ARG002 - the seam's signature
        channel_id: str,  # noqa: ARG002
        token: str,  # noqa: ARG002
        ttl_seconds: int,  # noqa: ARG002
    ) -> Channel:
        raise ProviderRejected(
            f"{self.kind} calendars send no push notifications (only polling reads {calendar})"
        )

    def stop_watch(self, channel: Channel) -> None:  # noqa: ARG002 - the seam's signature
        raise ProviderRejected(f"{self.kind} calendars have no push channels to stop")
