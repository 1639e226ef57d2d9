"""Google Calendar adapter: `GoogleCalendarProvider` speaks Calendar API v3 over `httpx.Client`.

API: events.list, get, insert, update, patch and delete
(https://developers.google.com/calendar/api/v3/reference/events), the sync guide
(https://developers.google.com/calendar/api/guides/sync), as summarised in
shared/PROVIDERS.md §1. A calendar is a room's calendar id (its resource email); a
provider id is an event id; a version is the event's `etag`.

Reading a calendar: events.list with `singleEvents=true`, so Google expands each series
into instances, each an event of its own with its own id (`recurringEventId`,
`originalStartTime` naming its series and original start); `maxResults = page_size`.
A full listing has no `syncToken` and no `showDeleted` (live events only); an incremental
one sends the delta key as `syncToken` and none of the parameters Google forbids with it.
Pages are followed by `pageToken`; the delta key is the last page's `nextSyncToken`. An
event with `status: "cancelled"` is a removed object. A listing of N events costs
ceil(N / page_size) requests (plus a token request when the token is due).

Traps handled:
- Any 410 on an incremental list means the sync token is dead: DeltaKeyExpired, whatever
  the reason says (`fullSyncRequired` or none).
- A create under calsync's own id (from the UID, `writer.event_id`) that already landed
  answers 409 `duplicate`: ObjectExists at that id, for the caller to read back.
- A 401 refreshes the token once and asks again once: tokens are revoked or expire
  early; a second 401 means the credentials are refused.
- A delete of an event already gone (404, 410) succeeds, so deleting is idempotent.
- A room answer patches the whole `attendees` array (Google's patch replaces arrays) from
  the event at the version answered, with `If-Match` on that version: a change made
  meanwhile is refused (412) rather than overwritten. An event read with
  `attendeesOmitted` gets the room's entry alone with `attendeesOmitted: true`.
- Each answered instance becomes an exception that keeps its own attendees and times when
  its organizer changes the series (the recurring events guide), so the room answers a
  series on the series event: an instance names it by `recurringEventId` (`series_of`),
  events.instances lists it (`instances`), and the answer is an edit of the series event
  like any other. An exception with attendees of its own is not reached by it.

Trust: every API request goes to the api_url's origin only (`wire.Wire.send`), within a
deadline and a cap on the answer's size; one read follows at most `max_sync_rounds`
pages. Token requests go to the key's `token_uri` (`auth.AccessTokens`). The texts kept
on events never hold the bearer token.

Push: `watch` opens an events.watch channel and `stop_watch` closes it with channels.stop
(bodies and answers in `calsync.providers.google.channels`); a channel ends on its own at
its expiration and is renewed by opening another before it does.

Errors: `calsync.providers.google.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Self
from urllib.parse import quote, urlencode

import httpx

from calsync.config import GoogleConnection
from calsync.domain.entries import Window
from calsync.errors import DeltaKeyExpired, ObjectExists, ProviderRejected, ProviderUnavailable
from calsync.providers.base import (
    Booking,
    CalendarCheck,
    Capabilities,
    ChangeBatch,
    ChangesSeen,
    Channel,
    Edit,
    Exchange,
    ObjectReaderFunction,
    OccurrenceCancel,
    OccurrenceMove,
    Provider,
    RemoteChange,
    RoomAnswer,
    WriteResult,
    credentials_refused,
)
from calsync.providers.google.auth import AccessTokens, BearerWire
from calsync.providers.google.channels import channel_of, stop_body, watch_body
from calsync.providers.google.errors import GoogleAnswer, fail
from calsync.providers.google.reader import event_uid, read_event
from calsync.providers.google.writer import (
    answer_fields,
    booking_body,
    event_id,
    moved_fields,
    room_answer,
)
from calsync.providers.hrefs import MAX_ID_LENGTH, shown
from calsync.providers.wire import Call, LimitExceeded, Limits, TrafficCounters

DEFAULT_API_URL = "https://www.googleapis.com/calendar/v3"
_JSON = "application/json; charset=utf-8"
_GONE = frozenset({404, 410})
#: Writes tell no one: the room's calendar changes, Google mails nobody about it.
_QUIET = {"sendUpdates": "none"}


class GoogleCalendarProvider:
    """One Google Workspace account: a service account acting as `subject`, a user who
    may manage the rooms' calendars. `service_account_info` is the key file's JSON."""

    kind: ClassVar[str] = "google"
    capabilities: ClassVar[Capabilities] = Capabilities(
        delta_keys=True,
        push=True,
        expands_instances=True,
        room_decides=True,
        cheap_to_read=True,
        answers_series=True,
    )

    def __init__(
        self,
        service_account_info: dict[str, Any],
        subject: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        limits: Limits | None = None,
        page_size: int = 250,
        transport: httpx.BaseTransport | None = None,
        connection: str = "",
    ) -> None:
        """`connection`: the connection's name, which a refusal of its credentials names."""
        if not 1 <= page_size <= 2500:
            raise ValueError(f"page_size must be from 1 to 2500, got {page_size}")
        self.api_url = api_url.rstrip("/")
        self.page_size = page_size
        self.limits = limits or Limits()
        self._tokens = AccessTokens(
            service_account_info,
            subject,
            timeout=timeout,
            deadline_seconds=self.limits.deadline_seconds,
            transport=transport,
        )
        self._wire = BearerWire(self.api_url + "/", timeout, self.limits, transport, self._tokens)
        self.connection = connection

    @classmethod
    def from_settings(cls, connection: GoogleConnection, limits: Limits, name: str = "") -> Self:
        return cls(
            connection.service_account_info(),
            connection.subject,
            api_url=connection.api_url,
            timeout=connection.timeout,
            limits=limits,
            page_size=connection.page_size,
            connection=name,
        )

    @property
    def counters(self) -> TrafficCounters:
        """API requests, bytes and seconds waited for answers since this provider was
        created (token requests are not counted)."""
        return self._wire.counters

    def close(self) -> None:
        self._wire.close()
        self._tokens.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reading

    def object_reader(self) -> ObjectReaderFunction:
        return read_event

    def uid_of(self, data: bytes) -> str:
        return event_uid(data)

    def fetch_changes(
        self,
        calendar: str,
        delta_key: str | None,
        on_changes: ChangesSeen | None = None,
        since: datetime | None = None,
    ) -> ChangeBatch:
        call, url = Call(), self._events_url(calendar)
        query = {"singleEvents": "true", "maxResults": str(self.page_size)}
        if delta_key is not None:
            query["syncToken"] = delta_key  # with no timeMin: Google forbids it there
        elif since is not None:
            # As the sync guide's own full sync: a room's years of history are not listed
            # (instance by instance), only what ends after the synchronization window opens.
            query["timeMin"] = _timestamp(since)
        full = delta_key is None
        found: dict[str, RemoteChange] = {}
        page_token: str | None = None
        for _ in range(self.limits.max_sync_rounds):
            paged = {**query, "pageToken": page_token} if page_token else query
            response = self._send(call, "GET", url, paged)
            if response.status_code == 410 and not full:
                raise DeltaKeyExpired(
                    f"{calendar}: Google no longer accepts the sync token "
                    f"({GoogleAnswer.of(response, self._wire.redact)})"
                )
            if response.status_code != 200:
                self._fail(response, f"listing the events of {calendar}")
            page = _json_object(response, f"listing the events of {calendar}")
            arrived = _changes(page, full)
            if on_changes is not None:
                on_changes(arrived)
            for change in arrived:
                found.pop(change.provider_id, None)
                found[change.provider_id] = change
            page_token = _string(page.get("nextPageToken"))
            if page_token is None:
                key = _string(page.get("nextSyncToken"))
                return ChangeBatch(tuple(found.values()), key, full, call.exchange())
        raise LimitExceeded(
            f"listing the events of {calendar} took more than {self.limits.max_sync_rounds} "
            f"pages of {self.page_size} (max_sync_rounds = {self.limits.max_sync_rounds})"
        )

    def get(self, calendar: str, provider_id: str) -> RemoteChange:
        """The event's JSON and etag; a cancelled event is gone (410), as is an unknown one."""
        call = Call()
        response = self._send(call, "GET", self._event_url(calendar, provider_id))
        if response.status_code in _GONE:
            raise ProviderRejected(
                f"reading event {shown(provider_id)}: it does not exist", response.status_code
            )
        if response.status_code != 200:
            self._fail(response, f"reading event {shown(provider_id)}")
        event = _json_object(response, f"reading event {shown(provider_id)}")
        if event.get("status") == "cancelled":
            raise ProviderRejected(f"reading event {shown(provider_id)}: it was cancelled", 410)
        return RemoteChange(provider_id, _etag(event, response), data=response.content)

    def series_of(self, data: bytes) -> str | None:
        """An instance's `recurringEventId`: the id of its series' event."""
        try:
            event = json.loads(data)
        except (ValueError, RecursionError):
            return None
        series = event.get("recurringEventId") if isinstance(event, dict) else None
        if not isinstance(series, str) or series in ("", ".", "..") or len(series) > MAX_ID_LENGTH:
            return None
        return series

    def instances(self, calendar: str, series_id: str, window: Window) -> list[RemoteChange]:
        """events.instances of the series overlapping `window` (Google's timeMin bounds an
        instance's end, timeMax its start), page by page; cancelled ones are not listed."""
        call, url = Call(), f"{self._event_url(calendar, series_id)}/instances"
        what = f"listing the instances of event {shown(series_id)}"
        query = {
            "maxResults": str(self.page_size),
            "timeMin": _timestamp(window.start),
            "timeMax": _timestamp(window.end),
        }
        found: list[RemoteChange] = []
        page_token: str | None = None
        for _ in range(self.limits.max_sync_rounds):
            paged = {**query, "pageToken": page_token} if page_token else query
            response = self._send(call, "GET", url, paged)
            if response.status_code in _GONE:
                raise ProviderRejected(f"{what}: it does not exist", response.status_code)
            if response.status_code != 200:
                self._fail(response, what)
            page = _json_object(response, what)
            found += [c for c in _changes(page, full=True) if c.refused is None]
            page_token = _string(page.get("nextPageToken"))
            if page_token is None:
                return found
        raise LimitExceeded(
            f"{what} took more than {self.limits.max_sync_rounds} pages of {self.page_size}"
        )

    def check(self, calendar: str) -> CalendarCheck:
        """calendars.get of the room's calendar: the token is granted for the subject, and
        the calendar answers; Google hands out sync tokens for every calendar."""
        call = Call()
        url = f"{self.api_url}/calendars/{_segment(calendar, 'calendar id')}"
        response = self._send(call, "GET", url)
        if response.status_code != 200:
            self._fail(response, f"checking calendar {calendar}")
        found = _json_object(response, f"checking calendar {calendar}")
        named = f" ({found['summary']})" if isinstance(found.get("summary"), str) else ""
        zone = found.get("timeZone")
        return CalendarCheck(
            True, f"calendar{named}" + (f", {zone}" if zone else "") + "; sync tokens"
        )

    # Writing

    def payload_of(self, booking: Booking) -> str:
        return json.dumps(booking_body(booking), ensure_ascii=False)

    def locate(self, calendar: str, uid: str) -> str:  # noqa: ARG002 - one id in any calendar
        return event_id(uid)

    def book(self, calendar: str, booking: Booking) -> WriteResult:
        call, provider_id = Call(), event_id(booking.uid)
        body = self.payload_of(booking).encode("utf-8")
        response = self._send(call, "POST", self._events_url(calendar), _QUIET, body)
        if response.status_code == 409:
            raise ObjectExists(
                f"creating {booking.uid!r}: event {provider_id} exists already in {calendar}",
                provider_id,
            )
        what = f"creating {booking.uid!r}"
        return self._written(call, response, provider_id, what, booking.room_address)

    def rebook(
        self, calendar: str, provider_id: str, booking: Booking, version: str | None
    ) -> WriteResult:
        call = Call()
        body = self.payload_of(booking).encode("utf-8")
        url = self._event_url(calendar, provider_id)
        response = self._send(call, "PUT", url, _QUIET, body, _if_match(version))
        what = f"updating event {shown(provider_id)}"
        return self._written(call, response, provider_id, what, booking.room_address)

    def cancel(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        call = Call()
        self._delete(call, calendar, provider_id, version)
        return call.exchange()

    def edit(
        self, calendar: str, provider_id: str, version: str, base: bytes | None, edit: Edit
    ) -> WriteResult:
        """Answer as the room or move an instance by a patch, or cancel an instance by
        deleting it (an instance is an event of its own), each with If-Match `version`."""
        call = Call()
        if isinstance(edit, OccurrenceCancel):
            self._delete(call, calendar, provider_id, version)
            return WriteResult(provider_id, None, call.exchange())
        event = self._base(call, calendar, provider_id, version, base)
        fields: dict[str, Any]
        if isinstance(edit, RoomAnswer):
            fields = answer_fields(event, edit.room_address, edit.partstat)
            what = f"answering event {shown(provider_id)} as {edit.room_address}"
        elif isinstance(edit, OccurrenceMove):
            fields = moved_fields(event, edit)
            what = f"moving event {shown(provider_id)}"
        else:
            raise TypeError(f"unknown edit {edit!r}")
        body = json.dumps(fields, ensure_ascii=False).encode("utf-8")
        url = self._event_url(calendar, provider_id)
        response = self._send(call, "PATCH", url, _QUIET, body, _if_match(version))
        return self._written(call, response, provider_id, what)

    def _base(
        self, call: Call, calendar: str, provider_id: str, version: str, base: bytes | None
    ) -> dict[str, Any]:
        """The event at `version`: `base` as read, or read now (412 if it moved on)."""
        what = f"reading event {shown(provider_id)} to edit it"
        if base is not None:
            try:
                event = json.loads(base)
            except (ValueError, RecursionError):
                raise ProviderRejected(f"{what}: its payload is not JSON") from None
            if not isinstance(event, dict):
                raise ProviderRejected(f"{what}: its payload is not a JSON object")
            return event
        response = self._send(call, "GET", self._event_url(calendar, provider_id))
        if response.status_code != 200:
            self._fail(response, what)
        event = _json_object(response, what)
        if event.get("status") == "cancelled":
            raise ProviderRejected(f"{what}: it was cancelled", 410)
        if _etag(event, response) != version:
            raise ProviderRejected(f"{what}: it is no longer at version {version}", 412)
        return event

    def _delete(self, call: Call, calendar: str, provider_id: str, version: str | None) -> None:
        """Delete the event if it is still at `version`; one already gone is fine, also
        when Google says so by refusing the version (a deleted event has a new etag)."""
        url = self._event_url(calendar, provider_id)
        response = self._send(call, "DELETE", url, _QUIET, None, _if_match(version))
        if response.status_code in (200, 204, *_GONE):
            return
        if response.status_code == 412 and self._gone(call, url):
            return
        self._fail(response, f"deleting event {shown(provider_id)}")

    def _gone(self, call: Call, url: str) -> bool:
        """Whether the event at `url` is deleted (cancelled) or unknown."""
        response = self._send(call, "GET", url)
        if response.status_code in _GONE:
            return True
        if response.status_code != 200:
            return False
        return _json_object(response, f"reading {url}").get("status") == "cancelled"

    def _written(
        self,
        call: Call,
        response: httpx.Response,
        provider_id: str,
        what: str,
        room_address: str | None = None,
    ) -> WriteResult:
        """The write's result; for a booking (`room_address`), the room's answer as the
        response shows it."""
        if response.status_code != 200:
            self._fail(response, what)
        event = _json_object(response, what)
        answer = room_answer(event, room_address) if room_address else None
        return WriteResult(provider_id, _etag(event, response), call.exchange(), answer)

    # Push

    def watch(
        self, calendar: str, address: str, channel_id: str, token: str, ttl_seconds: int
    ) -> Channel:
        """events.watch: notifications of `calendar`'s changes POSTed to `address`."""
        call, url = Call(), f"{self._events_url(calendar)}/watch"
        body = watch_body(address, channel_id, token, ttl_seconds)
        response = self._send(call, "POST", url, None, body)
        if response.status_code != 200:
            self._fail(response, f"watching {calendar}")
        answer = _json_object(response, f"watching {calendar}")
        return channel_of(answer, channel_id, token, calendar)

    def stop_watch(self, channel: Channel) -> None:
        """channels.stop; a channel Google no longer knows (404) is stopped already."""
        call = Call()
        response = self._send(
            call, "POST", f"{self.api_url}/channels/stop", None, stop_body(channel)
        )
        if response.status_code not in (200, 204, 404):
            self._fail(response, f"stopping channel {channel.id}")

    # The wire

    def _send(
        self,
        call: Call,
        method: str,
        url: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One API request with the current bearer token; a 401 is asked again once with
        a fresh token (the error for a second 401 is left to the caller's `fail`)."""
        if query:
            url += "?" + urlencode(query)
        headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            headers["Content-Type"] = _JSON
        try:
            token = self._tokens.current()
            response = self._wire.send(call, method, url, body, {**headers, **_bearer(token)})
            if response.status_code == 401:
                token = self._tokens.refreshed(token)
                response = self._wire.send(call, method, url, body, {**headers, **_bearer(token)})
        except ProviderRejected as exc:
            named = self._named(exc)
            if named is exc:
                raise
            raise named from exc
        return response

    def _fail(self, response: httpx.Response, what: str) -> NoReturn:
        try:
            fail(response, what, self._wire.redact)
        except ProviderRejected as exc:
            named = self._named(exc)
            if named is exc:
                raise
            raise named from exc

    def _named(self, exc: ProviderRejected) -> ProviderRejected:
        """A refusal of the credentials (401) names the connection, if it has a name."""
        return credentials_refused(exc, self.connection) if self.connection else exc

    def _events_url(self, calendar: str) -> str:
        return f"{self.api_url}/calendars/{_segment(calendar, 'calendar id')}/events"

    def _event_url(self, calendar: str, provider_id: str) -> str:
        return f"{self._events_url(calendar)}/{_segment(provider_id, 'event id')}"


def _changes(page: dict[str, Any], full: bool) -> list[RemoteChange]:
    """A page's events as changes: cancelled ones removed (a full listing has none)."""
    items = page.get("items", [])
    if not isinstance(items, list):
        raise ProviderUnavailable("Google listed events without an items array")
    changes = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            continue  # nothing to name it by
        provider_id: str = item["id"]
        if len(provider_id) > MAX_ID_LENGTH or provider_id in (".", ".."):
            why = f"refused event id {shown(provider_id)}: not an id calsync can keep"
            changes.append(RemoteChange(provider_id[:500], None, refused=why))
        elif item.get("status") == "cancelled":
            if not full:
                changes.append(RemoteChange(provider_id, None, removed=True))
        else:
            data = json.dumps(item, ensure_ascii=False).encode("utf-8")
            changes.append(RemoteChange(provider_id, _string(item.get("etag")), data=data))
    return changes


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        answer = json.loads(response.content)
    except (ValueError, RecursionError):
        raise ProviderUnavailable(f"{what}: Google's answer is not JSON") from None
    if not isinstance(answer, dict):
        raise ProviderUnavailable(f"{what}: Google's answer is not a JSON object")
    return answer


def _timestamp(moment: datetime) -> str:
    """An instant as Google's list parameters take it (RFC 3339, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _etag(event: dict[str, Any], response: httpx.Response) -> str | None:
    return _string(event.get("etag")) or response.headers.get("etag") or None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _if_match(version: str | None) -> dict[str, str]:
    return {"If-Match": version} if version else {}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _segment(value: str, what: str) -> str:
    """`value` as one path segment; an empty one or a dot segment would name another path."""
    if value in ("", ".", ".."):
        raise ProviderRejected(f"{what} {shown(value)} is not one")
    return quote(value, safe="")


if TYPE_CHECKING:  # mypy proves the adapter fulfils the seam

    def _is_a_provider(google: GoogleCalendarProvider) -> Provider:
        return google
