"""CalDAV adapter: `CalDAVProvider` speaks WebDAV/CalDAV over `httpx.Client`.

Protocols: RFC 4791 (CalDAV: MKCALENDAR, calendar-multiget, conditional PUT), RFC 6578
(sync-collection REPORT), RFC 4918 (WebDAV: PROPFIND, MKCOL, multistatus, preconditions) and
RFC 9110 (If-Match / If-None-Match, Retry-After). XML lives in `calsync.providers.webdav`.

Reading a calendar: one sync-collection REPORT (Depth 0, sync-level 1, getetag) gives the
changed and removed hrefs and the next sync-token (the delta key); the bodies of changed
hrefs come from calendar-multiget REPORTs of `multiget_batch` hrefs each (halved where a
server finds an answer too large). A full listing of
N objects costs 1 + ceil(N / multiget_batch) requests.

Traps handled:
- 507 on the request-URI inside the multistatus means a truncated answer (RFC 6578 §3.6):
  ask again with the partial token until there is no 507.
- Radicale returns 404 tombstones of deleted members on an initial sync, against RFC 6578
  §3.4; a full listing drops them so that it holds only live objects.
- An invalid or expired token is `DAV:valid-sync-token` with 403 (Radicale), 409 (RFC 4791
  §1.3) or 412 (Xandikos), or 418 (old Nextcloud): all raise DeltaKeyExpired. A 401, or a
  403 without that precondition, is an authentication failure (ProviderRejected).
- A server without sync-collection (`DAV:supported-report`, or 400/405/501 to the REPORT) is
  read with a PROPFIND Depth 1 etag listing instead, returned as a full listing without a
  delta key: the caller compares etags.
- A PUT answered without a strong ETag may have had its data changed by the server
  (RFC 4791 §5.3.4): the etag is then read with PROPFIND.
- DELETE of an object that is already gone (404) succeeds, so deleting is idempotent.

Errors: transport failures and 5xx raise ProviderUnavailable, 429/503 ProviderThrottled with
the Retry-After delay, other refusals ProviderRejected(status); what each status means is in
`calsync.providers.answers`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import quote, urljoin, urlsplit

import httpx

from calsync.errors import (
    ProviderThrottled,
    ProviderUnavailable,
)
from calsync.providers import webdav
from calsync.providers.answers import (
    SyncUnsupported,
    already_exists,
    check_sync_answer,
    fail,
    retry_after,
)
from calsync.providers.base import ChangeBatch, ChangesSeen, Exchange, RemoteChange, WriteResult

_EXCHANGE_LIMIT = 16 * 1024
#: A multiget answered with one of these is asked again in halves.
_TOO_MUCH = frozenset({400, 413, 507})
_XML = "application/xml; charset=utf-8"
_SAFE_UID = re.compile(r"^[A-Za-z0-9_~@+=-][A-Za-z0-9._~@+=-]{0,150}$")


@dataclass(frozen=True)
class TrafficCounters:
    """Requests and bytes on the wire: request or status line, headers, body as transferred
    (compressed when the server compressed it); `server_seconds`: from sending each request
    to having read its whole answer, summed over requests: the server's time to answer
    plus the network's (connecting, sending, receiving). Only the counters keep it; an
    Exchange does not."""

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    server_seconds: float = 0.0

    def __add__(self, other: TrafficCounters) -> TrafficCounters:
        return TrafficCounters(
            self.requests + other.requests,
            self.bytes_sent + other.bytes_sent,
            self.bytes_received + other.bytes_received,
            self.server_seconds + other.server_seconds,
        )

    def __sub__(self, other: TrafficCounters) -> TrafficCounters:
        return TrafficCounters(
            self.requests - other.requests,
            self.bytes_sent - other.bytes_sent,
            self.bytes_received - other.bytes_received,
            self.server_seconds - other.server_seconds,
        )


@dataclass
class _Call:
    """What one adapter call sent and received, turned into an Exchange at the end."""

    requests: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    traffic: TrafficCounters = TrafficCounters()

    def exchange(self) -> Exchange:
        return Exchange(
            request=webdav.truncate("\n\n".join(self.requests), _EXCHANGE_LIMIT),
            response=webdav.truncate("\n\n".join(self.responses), _EXCHANGE_LIMIT),
            requests=self.traffic.requests,
            bytes_sent=self.traffic.bytes_sent,
            bytes_received=self.traffic.bytes_received,
        )


class CalDAVProvider:
    """One CalDAV account. `calendar` is a collection path relative to `base_url` (or a URL);
    a provider id is an object's href as the server reports it."""

    kind: ClassVar[str] = "caldav"

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout: float = 30.0,
        multiget_batch: int = 1000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if multiget_batch < 1:
            raise ValueError(f"multiget_batch must be at least 1, got {multiget_batch}")
        self.base_url = base_url.rstrip("/") + "/"
        self.multiget_batch = multiget_batch
        auth = httpx.BasicAuth(username, password or "") if username is not None else None
        self._client = httpx.Client(auth=auth, timeout=timeout, transport=transport)
        self._counters = TrafficCounters()

    @property
    def counters(self) -> TrafficCounters:
        """Requests, bytes and seconds waited for answers since this provider was created."""
        return self._counters

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reading

    def fetch_changes(
        self, calendar: str, delta_key: str | None, on_changes: ChangesSeen | None = None
    ) -> ChangeBatch:
        url = self._collection_url(calendar)
        call = _Call()
        try:
            changed, removed, token = self._sync_collection(call, url, delta_key)
            full = delta_key is None
        except SyncUnsupported:
            # No delta key without sync-collection: list every member; the caller compares etags.
            changed, removed, token, full = self._propfind_listing(call, url), [], None, True
        changes = [RemoteChange(href, None, removed=True) for href in ([] if full else removed)]
        changes += self._multiget(call, url, list(changed), full, on_changes)
        return ChangeBatch(tuple(changes), token, full, call.exchange())

    def get(self, calendar: str, provider_id: str) -> RemoteChange:
        call, url = _Call(), self._object_url(calendar, provider_id)
        response = self._send(call, "GET", url)
        if response.status_code != 200:
            fail(response, f"reading {provider_id}")
        etag = response.headers.get("etag") or self._etag(call, url)
        return RemoteChange(provider_id, etag, data=response.content)

    def _sync_collection(
        self, call: _Call, url: str, delta_key: str | None
    ) -> tuple[dict[str, str | None], list[str], str | None]:
        """Changed hrefs with their etags, removed hrefs and the new token, following 507s."""
        etags: dict[str, str | None] = {}
        removed: dict[str, None] = {}
        token = delta_key
        while True:
            body = webdav.sync_collection(token)
            response = self._send(call, "REPORT", url, body, {"Depth": "0"})
            check_sync_answer(response, token)
            multistatus = webdav.parse_multistatus(response.content)
            truncated = False
            for member in multistatus.members:
                if webdav.same_path(member.href, url):
                    truncated = truncated or member.status == 507
                elif member.status == 404:
                    etags.pop(member.href, None)
                    removed[member.href] = None
                elif member.status == 200:
                    removed.pop(member.href, None)
                    etags[member.href] = member.etag
            if not truncated:
                return etags, list(removed), multistatus.sync_token
            if not multistatus.sync_token or multistatus.sync_token == token:
                raise ProviderUnavailable(f"{url} truncated its sync answer without a new token")
            token = multistatus.sync_token

    def _propfind_listing(self, call: _Call, url: str) -> dict[str, str | None]:
        """Every member's etag from PROPFIND Depth 1, for servers without sync-collection."""
        response = self._send(call, "PROPFIND", url, webdav.propfind_etags(), {"Depth": "1"})
        if response.status_code != 207:
            fail(response, f"listing {url}")
        return {
            member.href: member.etag
            for member in webdav.parse_multistatus(response.content).members
            if member.status == 200
            and not member.is_collection
            and not webdav.same_path(member.href, url)
        }

    def _multiget(
        self,
        call: _Call,
        url: str,
        hrefs: list[str],
        full: bool,
        on_changes: ChangesSeen | None,
    ) -> list[RemoteChange]:
        """Bodies of `hrefs` in batches, each shown to `on_changes` as soon as it arrives.

        The next batch is asked for before this one is read, so the server works while we
        parse: one request in flight ahead, never more.
        """
        batches = list(_batches(hrefs, self.multiget_batch))
        changes: list[RemoteChange] = []
        with ThreadPoolExecutor(1, thread_name_prefix="caldav-multiget") as ahead:
            asked = [ahead.submit(self._ask_multiget, call, url, batch) for batch in batches[:1]]
            for index in range(len(batches)):
                answers = asked[index].result()
                if index + 1 < len(batches):
                    asked.append(ahead.submit(self._ask_multiget, call, url, batches[index + 1]))
                arrived = [
                    change
                    for response, part in answers
                    for change in _multiget_changes(response, url, part, full)
                ]
                if on_changes is not None:
                    on_changes(arrived)
                changes += arrived
        return changes

    def _ask_multiget(
        self, call: _Call, url: str, batch: Sequence[str]
    ) -> list[tuple[httpx.Response, Sequence[str]]]:
        """The answers to a calendar-multiget of `batch`, asked in halves where it was too
        much for the server (Radicale refuses an answer of over 10,000 VEVENTs with 400)."""
        response = self._send(call, "REPORT", url, webdav.calendar_multiget(batch))
        if response.status_code in _TOO_MUCH and len(batch) > 1:
            half = len(batch) // 2
            first = self._ask_multiget(call, url, batch[:half])
            return first + self._ask_multiget(call, url, batch[half:])
        if response.status_code != 207:
            fail(response, f"reading objects of {url}")
        return [(response, batch)]

    # Writing

    def create(self, calendar: str, uid: str, data: bytes) -> WriteResult:
        url = self._collection_url(calendar) + _object_name(uid)
        return self._put(url, data, {"If-None-Match": "*"}, f"creating {uid!r}")

    def update(
        self, calendar: str, provider_id: str, data: bytes, version: str | None
    ) -> WriteResult:
        headers = {"If-Match": version} if version else {}
        url = self._object_url(calendar, provider_id)
        return self._put(url, data, headers, f"updating {provider_id}")

    def delete(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        call = _Call()
        headers = {"If-Match": version} if version else {}
        url = self._object_url(calendar, provider_id)
        response = self._send(call, "DELETE", url, None, headers)
        if response.status_code not in (200, 202, 204, 404):
            fail(response, f"deleting {provider_id}")
        return call.exchange()

    def make_calendar(self, calendar: str, display_name: str = "") -> None:
        """Create the calendar and missing parent collections; an existing one is fine."""
        url = self._collection_url(calendar)
        call = _Call()
        response = self._send(call, "MKCALENDAR", url, webdav.mkcalendar(display_name))
        if response.status_code == 409 and not already_exists(response):
            self._make_parents(call, url)
            response = self._send(call, "MKCALENDAR", url, webdav.mkcalendar(display_name))
        if response.status_code not in (200, 201) and not already_exists(response):
            fail(response, f"creating calendar {url}")

    def _make_parents(self, call: _Call, url: str) -> None:
        base_path = urlsplit(self.base_url).path
        segments = urlsplit(url).path[len(base_path) :].strip("/").split("/")[:-1]
        parent = self.base_url
        for segment in segments:
            parent += segment + "/"
            response = self._send(call, "MKCOL", parent)
            if response.status_code not in (200, 201) and not already_exists(response):
                fail(response, f"creating collection {parent}")

    def _put(self, url: str, data: bytes, headers: dict[str, str], what: str) -> WriteResult:
        call = _Call()
        headers = {"Content-Type": "text/calendar; charset=utf-8", **headers}
        response = self._send(call, "PUT", url, data, headers)
        if response.status_code not in (200, 201, 204):
            fail(response, what)
        etag = response.headers.get("etag")
        if not etag or etag.startswith("W/"):
            etag = self._etag(call, url)
        return WriteResult(_path(url), etag, call.exchange())

    def _etag(self, call: _Call, url: str) -> str | None:
        response = self._send(call, "PROPFIND", url, webdav.propfind_etags(), {"Depth": "0"})
        if response.status_code != 207:
            fail(response, f"reading the etag of {url}")
        members = webdav.parse_multistatus(response.content).members
        return next((member.etag for member in members if member.status == 200), None)

    # HTTP

    def _collection_url(self, calendar: str) -> str:
        if urlsplit(calendar).scheme:
            return calendar.rstrip("/") + "/"
        return self.base_url + calendar.strip("/") + "/"

    def _object_url(self, calendar: str, provider_id: str) -> str:
        """An href path is resolved on the server; a bare name inside `calendar`."""
        return urljoin(self._collection_url(calendar), provider_id)

    def _send(
        self,
        call: _Call,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request; transport errors and throttling become calsync errors here."""
        headers = dict(headers or {})
        if body is not None:
            headers.setdefault("Content-Type", _XML)
        request = self._client.build_request(method, url, content=body, headers=headers)
        call.requests.append(webdav.describe_request(request))
        began = time.perf_counter()
        try:
            response = self._client.send(request)  # the whole answer is read here
        except httpx.HTTPError as exc:
            self._count(call, _traffic(request, None, time.perf_counter() - began))
            call.responses.append(f"{type(exc).__name__}: {exc}")
            raise ProviderUnavailable(f"{method} {url} failed: {exc}") from exc
        self._count(call, _traffic(request, response, time.perf_counter() - began))
        call.responses.append(webdav.describe_response(response))
        if response.status_code in (429, 503):
            raise ProviderThrottled(
                f"{method} {url} answered {response.status_code}",
                retry_after(response.headers.get("retry-after")),
            )
        return response

    def _count(self, call: _Call, traffic: TrafficCounters) -> None:
        call.traffic += traffic
        self._counters += traffic


def _object_name(uid: str) -> str:
    """A file name for `uid`: the UID itself when it is plain, else a hash of it."""
    if _SAFE_UID.match(uid):
        return quote(uid, safe="") + ".ics"
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:40] + ".ics"


def _multiget_changes(
    response: httpx.Response, url: str, batch: Sequence[str], full: bool
) -> list[RemoteChange]:
    """The batch's objects from a multiget answer; one gone meanwhile is removed."""
    members = webdav.parse_multistatus(response.content).members
    found = {member.href: member for member in members}
    by_path: dict[str, Any] | None = None
    changes = []
    for href in batch:
        member = found.get(href)
        if member is None:
            # The server spelled the href otherwise (absolute URL, other escaping).
            by_path = by_path or {_path(urljoin(url, m.href)): m for m in members}
            member = by_path.get(_path(urljoin(url, href)))
        if member is None:
            raise ProviderUnavailable(f"{url} did not return {href} in calendar-multiget")
        if member.status == 200 and member.calendar_data is not None:
            changes.append(RemoteChange(href, member.etag, data=member.calendar_data))
        elif member.status == 404:
            if not full:
                changes.append(RemoteChange(href, None, removed=True))
        else:
            raise ProviderUnavailable(f"{url} answered {member.status} for {href}")
    return changes


def _path(url: str) -> str:
    return urlsplit(url).path


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """`items` in batches of `size`. A long list starts and ends with smaller batches (a
    quarter, then a half of `size`): the caller can start on the first page sooner, and
    the last page, which is handled after the read is over, is short."""
    ramp = [size // 4, size // 2] if size >= 4 and len(items) >= 4 * size else []
    full, rest = divmod(len(items) - 2 * sum(ramp), size)
    sizes = [*ramp, *[size] * full, rest, *ramp[::-1]]
    start = 0
    for length in sizes:
        if length:
            yield items[start : start + length]
            start += length


def _traffic(
    request: httpx.Request, response: httpx.Response | None, seconds: float
) -> TrafficCounters:
    sent = len(f"{request.method} {request.url.raw_path.decode()} HTTP/1.1\r\n") + len(
        request.content
    )
    sent += sum(len(name) + len(value) + 4 for name, value in request.headers.raw) + 2
    if response is None:
        return TrafficCounters(1, sent, 0, seconds)
    received = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n") + 2
    received += sum(len(name) + len(value) + 4 for name, value in response.headers.raw)
    return TrafficCounters(1, sent, received + response.num_bytes_downloaded, seconds)
