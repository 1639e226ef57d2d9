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
  ask again with the partial token until there is no 507 (at most `max_sync_rounds` times).
- Radicale returns 404 tombstones of deleted members on an initial sync, against RFC 6578
  §3.4; a full listing drops them so that it holds only live objects.
- An invalid or expired token is `DAV:valid-sync-token` with 403 (Radicale), 409 (RFC 4791
  §1.3) or 412 (Xandikos), or 418 (old Nextcloud): all raise DeltaKeyExpired. A 401, or a
  403 without that precondition, is an authentication failure (ProviderRejected).
- A server without sync-collection (`DAV:supported-report`, or 400/405/501 to the REPORT) is
  read with a PROPFIND Depth 1 etag listing instead, returned as a full listing without a
  delta key: the caller compares etags.
- A PUT answered without a strong ETag may have had its data changed by the server
  (RFC 4791 §5.3.4): its version stays unknown (a version looked up afterwards could be
  that of an edit saved in between); the next read applies it. `get` reads data and
  version together in one calendar-multiget, as a GET's ETag may be missing or weak.
- DELETE of an object that is already gone (404) succeeds, so deleting is idempotent.
- Servers list an object as a path or a full URL, escaped as they like: every provider id
  handed out (listings, writes, `get`) is `hrefs.canonical_id`, so a write's echo and a
  full listing name an object alike. An href outside the connection's origin or outside
  the calendar is never fetched: it comes back as a refused change (`RemoteChange.refused`).

Authentication: basic (user and password) or a bearer token (RFC 6750), sent by httpx
on every request and kept out of every text recorded (`wire.Wire.redact`).

Trust: every request goes to the connection's origin only (`wire.Wire.send`), within a
deadline and a cap on the answer's size; a truncated sync-collection is followed for at
most `max_sync_rounds` requests. Breaking a limit raises `wire.LimitExceeded`.

Errors: transport failures and 5xx raise ProviderUnavailable, 429/503 (and any 5xx with a
Retry-After) ProviderThrottled with the Retry-After delay, other refusals
ProviderRejected(status); what each status means is in `calsync.providers.answers`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import ClassVar, Concatenate, ParamSpec, Self, TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit

import httpx

from calsync.config import CalDAVConnection
from calsync.errors import CalsyncError, ObjectExists, ProviderRejected, ProviderUnavailable
from calsync.providers import webdav
from calsync.providers.answers import (
    SyncUnsupported,
    already_exists,
    check_sync_answer,
    fail,
)
from calsync.providers.base import (
    CalendarCheck,
    Capabilities,
    ChangeBatch,
    ChangesSeen,
    Exchange,
    NoPush,
    RemoteChange,
    WholeSeries,
    WriteResult,
    credentials_refused,
)
from calsync.providers.hrefs import ForeignHref, canonical_id, shown
from calsync.providers.ical.objects import ICalendarObjects
from calsync.providers.wire import (
    Call,
    LimitExceeded,
    Limits,
    TokenSource,
    TrafficCounters,
    Wire,
)

#: Listed hrefs by provider id: the href as the server spelled it is what it is asked for.
_Listed = dict[str, str]
#: A multiget answered with one of these is asked again in halves.
_TOO_MUCH = frozenset({400, 413, 507})
T = TypeVar("T")
P = ParamSpec("P")
_SAFE_UID = re.compile(r"^[A-Za-z0-9_~@+=-][A-Za-z0-9._~@+=-]{0,150}$")


def _boundary(
    method: Callable[Concatenate[CalDAVProvider, P], T],
) -> Callable[Concatenate[CalDAVProvider, P], T]:
    """A public method whose errors leave the adapter as `CalDAVProvider._leaving` says."""

    @functools.wraps(method)
    def guarded(self: CalDAVProvider, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except CalsyncError as exc:
            leaving = self._leaving(exc)
            if leaving is exc:
                raise
            raise leaving from exc

    return guarded


class CalDAVProvider(NoPush, WholeSeries, ICalendarObjects):
    """One CalDAV account. `calendar` is a collection path relative to `base_url` (or a URL
    at the same origin); a provider id is an object's absolute path (`hrefs.canonical_id`).
    The seam's writes are whole iCalendar objects (`ICalendarObjects`) put with If-Match.
    """

    kind: ClassVar[str] = "caldav"
    capabilities: ClassVar[Capabilities] = Capabilities(delta_keys=True)

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout: float = 30.0,
        multiget_batch: int = 1000,
        limits: Limits | None = None,
        transport: httpx.BaseTransport | None = None,
        bearer_token: str | TokenSource | None = None,
        connection: str = "",
    ) -> None:
        """Basic authentication with `username` and `password`, or a `bearer_token` (the
        token, or where it is read again before each request). `connection`: the
        connection's name, which a refusal of its credentials (401) names."""
        if multiget_batch < 1:
            raise ValueError(f"multiget_batch must be at least 1, got {multiget_batch}")
        self.base_url = base_url.rstrip("/") + "/"
        self.multiget_batch = multiget_batch
        credentials = (username, password or "") if username is not None else None
        self._wire = Wire(
            self.base_url, credentials, timeout, limits or Limits(), transport, bearer_token
        )
        self.limits = self._wire.limits
        self.connection = connection

    @classmethod
    def from_settings(cls, connection: CalDAVConnection, limits: Limits, name: str = "") -> Self:
        token = connection.bearer_token_source()
        if token is not None:
            token.current()  # a token that cannot be had fails here, not at the first request
        return cls(
            connection.url,
            connection.username or None,
            connection.secret(),
            timeout=connection.timeout,
            limits=limits,
            bearer_token=token,
            connection=name,
        )

    @property
    def counters(self) -> TrafficCounters:
        """Requests, bytes and seconds waited for answers since this provider was created."""
        return self._wire.counters

    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _leaving(self, exc: CalsyncError) -> CalsyncError:
        """`exc` as it leaves the adapter: without a secret in its message (a listing's
        href or an answer quoted in it may hold the Authorization header a server echoed;
        messages are stored on events and synchronizations), and naming the connection
        if its credentials were refused (401)."""
        exc.args = (self._wire.redact(str(exc)), *exc.args[1:])
        if isinstance(exc, ProviderRejected) and self.connection:
            return credentials_refused(exc, self.connection)
        return exc

    # Reading

    @_boundary
    def fetch_changes(
        self,
        calendar: str,
        delta_key: str | None,
        on_changes: ChangesSeen | None = None,
        since: datetime | None = None,  # noqa: ARG002 - every object is listed
    ) -> ChangeBatch:
        url = self._collection_url(calendar)
        call = Call()
        try:
            listing = self._sync_collection(call, url, delta_key)
            full = delta_key is None
        except SyncUnsupported:
            # No delta key without sync-collection: list every member; the caller compares etags.
            listing, full = self._propfind_listing(call, url), True
        redact = self._wire.redact
        changes = [_refused(redact(href), redact(why)) for href, why in listing.refused.items()]
        changes += [
            RemoteChange(gone, None, removed=True) for gone in ([] if full else listing.removed)
        ]
        changes += self._multiget(call, url, listing.changed, full, on_changes)
        return ChangeBatch(tuple(changes), listing.token, full, call.exchange())

    @_boundary
    def get(self, calendar: str, provider_id: str) -> RemoteChange:
        """The object's data and version, read together in one calendar-multiget: a GET's
        ETag may be missing or weakened (a proxy compressing answers), and a version
        looked up afterwards could be that of an edit saved in between."""
        call, url = Call(), self._object_url(calendar, provider_id)
        collection = self._collection_url(calendar)
        self._wire.origin.check(url)
        try:
            httpx.URL(url)  # what a GET of it would refuse, the multiget refuses too
            member = self._wire.origin.member_id(url, collection)
        except (ForeignHref, httpx.InvalidURL) as exc:
            raise ProviderRejected(f"reading {shown(provider_id)}: {exc}") from None
        batch = [(member, member)]
        changes = [
            change
            for response, part in self._ask_multiget(call, collection, batch)
            for change in self._multiget_changes(response, collection, part, full=False)
        ]
        if not changes or changes[0].removed:
            raise ProviderRejected(f"reading {provider_id}: it does not exist", 404)
        return changes[0]

    @_boundary
    def check(self, calendar: str) -> CalendarCheck:
        """One PROPFIND Depth 0 of the collection: the credentials hold, it is a calendar,
        and it hands out sync-tokens (RFC 6578) or not."""
        url = self._collection_url(calendar)
        body = webdav.propfind_calendar_check()
        response = self._wire.send(Call(), "PROPFIND", url, body, {"Depth": "0"})
        if response.status_code != 207:
            fail(response, f"checking {url}")
        is_calendar, syncs, name = webdav.calendar_check(response.content)
        if not is_calendar:
            raise ProviderRejected(f"{url} answers, but is not a calendar collection", 404)
        named = f" ({name})" if name else ""
        how = "sync-collection" if syncs else "no sync-collection: each read lists it whole"
        return CalendarCheck(syncs, f"calendar{named}; {how}")

    def _sync_collection(self, call: Call, url: str, delta_key: str | None) -> _Listing:
        """Changed and removed members and the new token, following 507s for at most
        `max_sync_rounds` requests."""
        listing = _Listing(self._wire.origin.member_id, url)
        token = delta_key
        for _ in range(self.limits.max_sync_rounds):
            body = webdav.sync_collection(token)
            response = self._wire.send(call, "REPORT", url, body, {"Depth": "0"})
            check_sync_answer(response, token)
            multistatus = webdav.parse_multistatus(response.content)
            truncated = False
            for member in multistatus.members:
                if webdav.same_path(member.href, url):
                    truncated = truncated or member.status == 507
                elif member.status in (200, 404):
                    listing.add(member.href, member.status == 404)
            listing.token = multistatus.sync_token
            if not truncated:
                return listing
            if not multistatus.sync_token or multistatus.sync_token == token:
                raise ProviderUnavailable(f"{url} truncated its sync answer without a new token")
            token = multistatus.sync_token
        raise LimitExceeded(
            f"{url} truncated its sync answer {self.limits.max_sync_rounds} times in a row "
            f"(max_sync_rounds = {self.limits.max_sync_rounds})"
        )

    def _propfind_listing(self, call: Call, url: str) -> _Listing:
        """Every member from PROPFIND Depth 1, for servers without sync-collection."""
        response = self._wire.send(call, "PROPFIND", url, webdav.propfind_etags(), {"Depth": "1"})
        if response.status_code != 207:
            fail(response, f"listing {url}")
        listing = _Listing(self._wire.origin.member_id, url)
        for member in webdav.parse_multistatus(response.content).members:
            if (
                member.status == 200
                and not member.is_collection
                and not webdav.same_path(member.href, url)
            ):
                listing.add(member.href, removed=False)
        return listing

    def _multiget(
        self,
        call: Call,
        url: str,
        listed: _Listed,
        full: bool,
        on_changes: ChangesSeen | None,
    ) -> list[RemoteChange]:
        """Bodies of the `listed` members in batches, each shown to `on_changes` as soon as
        it arrives.

        The next batch is asked for before this one is read, so the server works while we
        parse: one request in flight ahead, never more.
        """
        batches = list(_batches(list(listed.items()), self.multiget_batch))
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
                    for change in self._multiget_changes(response, url, part, full)
                ]
                if on_changes is not None:
                    on_changes(arrived)
                changes += arrived
        return changes

    def _ask_multiget(
        self, call: Call, url: str, batch: Sequence[tuple[str, str]]
    ) -> list[tuple[httpx.Response, Sequence[tuple[str, str]]]]:
        """The answers to a calendar-multiget of `batch`, asked in halves where it was too
        much for the server (Radicale refuses an answer of over 10,000 VEVENTs with 400)."""
        hrefs = [href for _, href in batch]
        response = self._wire.send(call, "REPORT", url, webdav.calendar_multiget(hrefs))
        if response.status_code in _TOO_MUCH and len(batch) > 1:
            half = len(batch) // 2
            first = self._ask_multiget(call, url, batch[:half])
            return first + self._ask_multiget(call, url, batch[half:])
        if response.status_code != 207:
            fail(response, f"reading objects of {url}")
        return [(response, batch)]

    def _multiget_changes(
        self, response: httpx.Response, url: str, batch: Sequence[tuple[str, str]], full: bool
    ) -> list[RemoteChange]:
        """The batch's objects from a multiget answer; one gone meanwhile is removed. An
        answer's member at another origin is no answer for anything asked."""
        found: dict[str, webdav.Member] = {}
        for answered in webdav.parse_multistatus(response.content).members:
            try:
                found[self._wire.origin.member_id(answered.href, url)] = answered
            except ForeignHref:
                continue
        changes = []
        for provider_id, href in batch:
            member = found.get(provider_id)
            if member is None:
                raise ProviderUnavailable(
                    f"{url} did not return {shown(href)} in calendar-multiget"
                )
            if member.status == 200 and member.calendar_data is not None:
                changes.append(RemoteChange(provider_id, member.etag, data=member.calendar_data))
            elif member.status == 404:
                if not full:
                    changes.append(RemoteChange(provider_id, None, removed=True))
            else:
                raise ProviderUnavailable(f"{url} answered {member.status} for {shown(href)}")
        return changes

    # Writing

    def locate(self, calendar: str, uid: str) -> str:
        return canonical_id(self._collection_url(calendar) + _object_name(uid))

    @_boundary
    def create(self, calendar: str, uid: str, data: bytes) -> WriteResult:
        url = self._collection_url(calendar) + _object_name(uid)
        try:
            return self._put(url, data, {"If-None-Match": "*"}, f"creating {uid!r}")
        except ProviderRejected as exc:
            if exc.status != 412:
                raise
            raise ObjectExists(
                f"creating {uid!r}: {url} exists already", canonical_id(url)
            ) from exc

    @_boundary
    def update(
        self, calendar: str, provider_id: str, data: bytes, version: str | None
    ) -> WriteResult:
        headers = {"If-Match": version} if version else {}
        url = self._object_url(calendar, provider_id)
        return self._put(url, data, headers, f"updating {provider_id}")

    @_boundary
    def delete(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        call = Call()
        headers = {"If-Match": version} if version else {}
        url = self._object_url(calendar, provider_id)
        response = self._wire.send(call, "DELETE", url, None, headers)
        if response.status_code not in (200, 202, 204, 404):
            fail(response, f"deleting {provider_id}")
        return call.exchange()

    @_boundary
    def make_calendar(self, calendar: str, display_name: str = "") -> None:
        """Create the calendar and missing parent collections; an existing one is fine."""
        url = self._collection_url(calendar)
        call = Call()
        response = self._wire.send(call, "MKCALENDAR", url, webdav.mkcalendar(display_name))
        if response.status_code == 409 and not already_exists(response):
            self._make_parents(call, url)
            response = self._wire.send(call, "MKCALENDAR", url, webdav.mkcalendar(display_name))
        if response.status_code not in (200, 201) and not already_exists(response):
            fail(response, f"creating calendar {url}")

    def _make_parents(self, call: Call, url: str) -> None:
        base_path = urlsplit(self.base_url).path
        segments = urlsplit(url).path[len(base_path) :].strip("/").split("/")[:-1]
        parent = self.base_url
        for segment in segments:
            parent += segment + "/"
            response = self._wire.send(call, "MKCOL", parent)
            if response.status_code not in (200, 201) and not already_exists(response):
                fail(response, f"creating collection {parent}")

    def _put(self, url: str, data: bytes, headers: dict[str, str], what: str) -> WriteResult:
        call = Call()
        headers = {"Content-Type": "text/calendar; charset=utf-8", **headers}
        response = self._wire.send(call, "PUT", url, data, headers)
        if response.status_code not in (200, 201, 204):
            fail(response, what)
        etag = response.headers.get("etag")
        if etag and etag.startswith("W/"):
            etag = None
        # No strong ETag: the server may have changed the data (RFC 4791 §5.3.4). The
        # version stays unknown rather than looked up: an edit saved in between would
        # otherwise be taken for calsync's own write. The next read applies it.
        return WriteResult(canonical_id(url), etag, call.exchange())

    def _collection_url(self, calendar: str) -> str:
        if urlsplit(calendar).scheme:
            return calendar.rstrip("/") + "/"
        return self.base_url + calendar.strip("/") + "/"

    def _object_url(self, calendar: str, provider_id: str) -> str:
        """An href path is resolved on the server; a bare name inside `calendar`. Whatever
        it resolves to, a request goes only to the connection's origin (`Wire.send`)."""
        try:
            url = urljoin(self._collection_url(calendar), provider_id)
        except ValueError as exc:  # an unclosed IPv6 bracket, say
            raise ProviderRejected(
                f"provider id {shown(provider_id)} is not a URL: {exc}"
            ) from None
        if any(unquote(part) in (".", "..") for part in urlsplit(url).path.split("/")):
            raise ProviderRejected(f"provider id {shown(provider_id)} climbs with . or ..")
        return url


class _Listing:
    """The members a listing named, by provider id; the hrefs it named outside the
    calendar, with the reason each was refused; and the delta key it ended with."""

    def __init__(self, member_id: Callable[[str, str], str], collection: str) -> None:
        self._member_id, self._collection = member_id, collection
        self.changed: _Listed = {}
        self.removed: dict[str, None] = {}
        self.refused: dict[str, str] = {}
        self.token: str | None = None

    def add(self, href: str, removed: bool) -> None:
        try:
            provider_id = self._member_id(href, self._collection)
        except ForeignHref as exc:
            self.refused[href] = str(exc)
            return
        if removed:
            self.changed.pop(provider_id, None)
            self.removed[provider_id] = None
        else:
            self.removed.pop(provider_id, None)
            self.changed[provider_id] = href


def _refused(href: str, why: str) -> RemoteChange:
    return RemoteChange(href[:500], None, refused=why)


def _object_name(uid: str) -> str:
    """A file name for `uid`: the UID itself when it is plain, else a hash of it."""
    if _SAFE_UID.match(uid):
        return quote(uid, safe="") + ".ics"
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:40] + ".ics"


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
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
