"""The CalDAV adapter against a real Radicale server, and against scripted answers for the
cases Radicale cannot produce (throttling, truncation, servers without sync-collection)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from calsync.errors import (
    DeltaKeyExpired,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
)
from calsync.providers.base import ChangeBatch
from calsync.providers.caldav import CalDAVProvider
from calsync.radicale_server import RadicaleServer

RADICALE_UNKNOWN_TOKEN = "http://radicale.org/ns/sync/" + "0" * 64


def event(uid: str, summary: str = "Team meeting") -> bytes:
    """A minimal VEVENT as an iCalendar body with CRLF line ends."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//calsync//tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        "DTSTART:20260302T090000Z",
        "DTEND:20260302T100000Z",
        f"SUMMARY:{summary}",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode()


def summary(data: bytes | None) -> str:
    """The SUMMARY of a body: servers may reorder properties, so bodies are compared by it."""
    assert data is not None
    lines = data.decode().split("\r\n")
    return next(line.removeprefix("SUMMARY:") for line in lines if line.startswith("SUMMARY:"))


def by_id(batch: ChangeBatch) -> dict[str, bytes | None]:
    return {change.provider_id: change.data for change in batch.changes}


def fill(provider: CalDAVProvider, calendar: str, count: int, prefix: str = "e") -> list[str]:
    return [
        provider.create(calendar, f"{prefix}{n}", event(f"{prefix}{n}")).provider_id
        for n in range(count)
    ]


# Reading from Radicale


@pytest.mark.radicale
def test_full_listing_returns_every_object_with_its_body_and_etag(
    provider: CalDAVProvider, calendar: str
) -> None:
    written = {provider.create(calendar, uid, event(uid)) for uid in ("a", "b", "c")}

    batch = provider.fetch_changes(calendar, None)

    assert batch.full
    assert batch.delta_key is not None
    assert {(c.provider_id, c.version) for c in batch.changes} == {
        (w.provider_id, w.version) for w in written
    }
    assert not any(change.removed for change in batch.changes)
    body = by_id(batch)[f"{calendar}a.ics"]
    assert body is not None
    assert b"\r\nUID:a\r\n" in body
    assert body.endswith(b"END:VCALENDAR\r\n")


@pytest.mark.radicale
def test_full_listing_of_an_empty_calendar_is_empty_with_a_delta_key(
    provider: CalDAVProvider, calendar: str
) -> None:
    batch = provider.fetch_changes(calendar, None)

    assert batch.changes == ()
    assert batch.full
    assert batch.delta_key


@pytest.mark.radicale
def test_incremental_sync_reports_exactly_the_created_updated_and_deleted_objects(
    provider: CalDAVProvider, calendar: str
) -> None:
    kept, updated, deleted = fill(provider, calendar, 3)
    first = provider.fetch_changes(calendar, None)
    versions = {change.provider_id: change.version for change in first.changes}

    provider.update(calendar, updated, event("e1", "Moved"), versions[updated])
    provider.delete(calendar, deleted, versions[deleted])
    created = provider.create(calendar, "new", event("new")).provider_id
    second = provider.fetch_changes(calendar, first.delta_key)

    assert not second.full
    assert second.delta_key not in (None, first.delta_key)
    changes = {change.provider_id: change for change in second.changes}
    assert set(changes) == {updated, deleted, created}
    assert changes[deleted].removed
    assert summary(changes[updated].data) == "Moved"
    assert b"UID:new" in (changes[created].data or b"")
    assert kept not in changes


@pytest.mark.radicale
def test_incremental_sync_without_changes_is_empty_and_keeps_working(
    provider: CalDAVProvider, calendar: str
) -> None:
    fill(provider, calendar, 2)
    first = provider.fetch_changes(calendar, None)

    second = provider.fetch_changes(calendar, first.delta_key)

    assert second.changes == ()
    assert second.exchange.requests == 1


@pytest.mark.radicale
def test_full_listing_after_deletions_contains_no_tombstones(
    provider: CalDAVProvider, calendar: str
) -> None:
    live, gone = fill(provider, calendar, 2)
    provider.fetch_changes(calendar, None)
    provider.delete(calendar, gone, None)

    batch = provider.fetch_changes(calendar, None)

    assert [(change.provider_id, change.removed) for change in batch.changes] == [(live, False)]


@pytest.mark.radicale
def test_made_up_sync_token_raises_delta_key_expired(
    provider: CalDAVProvider, calendar: str
) -> None:
    with pytest.raises(DeltaKeyExpired):
        provider.fetch_changes(calendar, RADICALE_UNKNOWN_TOKEN)


@pytest.fixture(scope="module")
def short_lived_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    folder = tmp_path_factory.mktemp("radicale-short-tokens")
    with RadicaleServer(folder, max_sync_token_age=1) as server:
        yield server


@pytest.mark.radicale
def test_sync_token_older_than_the_servers_max_age_raises_delta_key_expired(
    short_lived_tokens: RadicaleServer,
) -> None:
    provider = CalDAVProvider(short_lived_tokens.url)
    provider.make_calendar("/rooms/expiring/")
    old_key = provider.fetch_changes("/rooms/expiring/", None).delta_key
    time.sleep(2.1)
    provider.create("/rooms/expiring/", "later", event("later"))
    provider.fetch_changes("/rooms/expiring/", None)  # stores a new token, drops old ones

    with pytest.raises(DeltaKeyExpired):
        provider.fetch_changes("/rooms/expiring/", old_key)


@pytest.mark.radicale
def test_bodies_are_fetched_in_multiget_batches(radicale: RadicaleServer, calendar: str) -> None:
    provider = CalDAVProvider(radicale.url, multiget_batch=2)
    ids = fill(provider, calendar, 5)

    batch = provider.fetch_changes(calendar, None)

    assert sorted(by_id(batch)) == sorted(ids)
    assert all(change.data and b"BEGIN:VEVENT" in change.data for change in batch.changes)
    assert batch.exchange.requests == 1 + 3  # one sync-collection, three multigets of 2, 2, 1


@pytest.mark.radicale
def test_incremental_sync_costs_the_same_requests_in_small_and_large_calendars(
    provider: CalDAVProvider, calendar: str
) -> None:
    def incremental_requests(path: str, size: int) -> int:
        ids = fill(provider, path, size)
        key = provider.fetch_changes(path, None).delta_key
        provider.update(path, ids[0], event("e0", "Changed"), None)
        provider.create(path, "extra", event("extra"))
        before = provider.counters
        batch = provider.fetch_changes(path, key)
        assert len(batch.changes) == 2
        assert (provider.counters - before).requests == batch.exchange.requests
        return batch.exchange.requests

    large = calendar.replace("room-", "large-")
    provider.make_calendar(large)

    assert incremental_requests(calendar, 3) == incremental_requests(large, 60) == 2


@pytest.mark.radicale
def test_calendar_objects_can_be_read_one_by_one(provider: CalDAVProvider, calendar: str) -> None:
    written = provider.create(calendar, "room-booking@example.com", event("x", "Board"))

    change = provider.get(calendar, written.provider_id)

    assert written.provider_id == f"{calendar}room-booking%40example.com.ics"
    assert (summary(change.data), change.version) == ("Board", written.version)


@pytest.mark.radicale
def test_uids_that_are_not_plain_file_names_get_a_hashed_href(
    provider: CalDAVProvider, calendar: str
) -> None:
    written = provider.create(calendar, "a/b c?", event("a/b c?"))

    listed = provider.fetch_changes(calendar, None)

    assert [change.provider_id for change in listed.changes] == [written.provider_id]


@pytest.mark.radicale
def test_reading_a_missing_calendar_is_rejected_with_404(provider: CalDAVProvider) -> None:
    with pytest.raises(ProviderRejected) as raised:
        provider.fetch_changes("/rooms/nowhere/", None)
    assert raised.value.status == 404


@pytest.mark.radicale
def test_making_an_existing_calendar_again_is_fine(provider: CalDAVProvider, calendar: str) -> None:
    provider.make_calendar(calendar)

    assert provider.fetch_changes(calendar, None).changes == ()


# Writing to Radicale


@pytest.mark.radicale
def test_create_with_an_existing_uid_is_rejected_with_412(
    provider: CalDAVProvider, calendar: str
) -> None:
    provider.create(calendar, "dup", event("dup"))

    with pytest.raises(ProviderRejected) as raised:
        provider.create(calendar, "dup", event("dup", "Other"))
    assert raised.value.status == 412


@pytest.mark.radicale
def test_update_with_a_stale_etag_is_rejected_with_412(
    provider: CalDAVProvider, calendar: str
) -> None:
    first = provider.create(calendar, "u", event("u"))
    provider.update(calendar, first.provider_id, event("u", "Second"), first.version)

    with pytest.raises(ProviderRejected) as raised:
        provider.update(calendar, first.provider_id, event("u", "Third"), first.version)
    assert raised.value.status == 412
    assert summary(provider.get(calendar, first.provider_id).data) == "Second"


@pytest.mark.radicale
def test_update_returns_the_new_etag(provider: CalDAVProvider, calendar: str) -> None:
    first = provider.create(calendar, "u", event("u"))

    second = provider.update(calendar, first.provider_id, event("u", "Second"), first.version)

    assert second.version not in (None, first.version)
    assert provider.get(calendar, first.provider_id).version == second.version


@pytest.mark.radicale
def test_delete_is_idempotent(provider: CalDAVProvider, calendar: str) -> None:
    written = provider.create(calendar, "d", event("d"))

    provider.delete(calendar, written.provider_id, written.version)
    provider.delete(calendar, written.provider_id, written.version)
    provider.delete(calendar, written.provider_id, None)

    assert provider.fetch_changes(calendar, None).changes == ()


@pytest.mark.radicale
def test_delete_with_a_stale_etag_is_rejected_with_412(
    provider: CalDAVProvider, calendar: str
) -> None:
    first = provider.create(calendar, "d", event("d"))
    provider.update(calendar, first.provider_id, event("d", "Changed"), None)

    with pytest.raises(ProviderRejected) as raised:
        provider.delete(calendar, first.provider_id, first.version)
    assert raised.value.status == 412


@pytest.mark.radicale
def test_exchanges_and_counters_record_what_went_over_the_wire(
    provider: CalDAVProvider, calendar: str
) -> None:
    before = provider.counters
    written = provider.create(calendar, "w", event("w"))

    assert written.exchange.request.startswith(f"PUT {provider.base_url}")
    assert "If-None-Match: *" in written.exchange.request
    assert "SUMMARY:Team meeting" in written.exchange.request
    assert written.exchange.response.startswith("201")
    spent = provider.counters - before
    assert spent.requests == written.exchange.requests == 1
    assert spent.bytes_sent == written.exchange.bytes_sent > len(event("w"))
    assert spent.bytes_received == written.exchange.bytes_received > 0
    assert 0 < spent.server_seconds < 10  # sending the PUT and reading its answer


@pytest.mark.radicale
def test_radicale_server_stops_on_exit(tmp_path: Path) -> None:
    with RadicaleServer(tmp_path / "dav") as server:
        url = server.url
        assert httpx.request("OPTIONS", url + "/").status_code == 200

    with pytest.raises(httpx.ConnectError):
        httpx.request("OPTIONS", url + "/")


# Scripted answers

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(handler: Handler, **options: int) -> CalDAVProvider:
    return CalDAVProvider(
        "http://dav.test", "room", "secret", transport=httpx.MockTransport(handler), **options
    )


def multistatus(*responses: str, token: str | None = None) -> httpx.Response:
    sync_token = f"<d:sync-token>{token}</d:sync-token>" if token else ""
    body = f'<d:multistatus xmlns:d="DAV:">{"".join(responses)}{sync_token}</d:multistatus>'
    return httpx.Response(207, content=body.encode())


def member(href: str, etag: str = '"1"', data: str | None = None) -> str:
    calendar_data = (
        f'<c:calendar-data xmlns:c="urn:ietf:params:xml:ns:caldav">{data}</c:calendar-data>'
        if data is not None
        else ""
    )
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>"
        f"<d:getetag>{etag}</d:getetag>{calendar_data}</d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def status(href: str, code: str) -> str:
    return f"<d:response><d:href>{href}</d:href><d:status>HTTP/1.1 {code}</d:status></d:response>"


def dav_error(condition: str) -> bytes:
    return f'<d:error xmlns:d="DAV:"><d:{condition}/></d:error>'.encode()


def multiget_answer(request: httpx.Request) -> httpx.Response:
    hrefs = [part.split("</d:href>")[0] for part in request.content.decode().split("<d:href>")[1:]]
    return multistatus(*(member(href, data=f"BODY {href}") for href in hrefs))


def test_a_long_listing_is_fetched_in_batches_that_start_and_end_small() -> None:
    sizes: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        if "sync-collection" in body:
            return multistatus(*(member(f"/rooms/a/{n}.ics") for n in range(41)), token="t1")
        sizes.append(body.count("<d:href>"))
        return multiget_answer(request)

    pages: list[int] = []
    batch = scripted(answer, multiget_batch=8).fetch_changes(
        "/rooms/a/", None, lambda page: pages.append(len(page))
    )

    assert sorted(c.provider_id for c in batch.changes) == sorted(
        f"/rooms/a/{n}.ics" for n in range(41)
    )
    assert sizes == pages == [2, 4, 8, 8, 8, 5, 4, 2]  # a quarter, a half, ..., a half, a quarter
    assert batch.exchange.requests == 1 + len(sizes)


def test_throttling_with_retry_after_seconds_raises_provider_throttled() -> None:
    provider = scripted(lambda request: httpx.Response(429, headers={"Retry-After": "120"}))

    with pytest.raises(ProviderThrottled) as raised:
        provider.fetch_changes("/rooms/a/", None)
    assert raised.value.retry_after == 120


def test_service_unavailable_with_a_retry_after_date_raises_provider_throttled() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    provider = scripted(lambda request: httpx.Response(503, headers={"Retry-After": later}))

    with pytest.raises(ProviderThrottled) as raised:
        provider.create("/rooms/a/", "x", b"")
    assert raised.value.retry_after == pytest.approx(90, abs=3)


@pytest.mark.parametrize(
    ("code", "body"),
    [
        (403, dav_error("valid-sync-token")),
        (409, dav_error("valid-sync-token")),
        (412, dav_error("valid-sync-token")),
        (418, b"I'm a teapot"),
    ],
)
def test_refused_sync_token_raises_delta_key_expired(code: int, body: bytes) -> None:
    provider = scripted(lambda request: httpx.Response(code, content=body))

    with pytest.raises(DeltaKeyExpired):
        provider.fetch_changes("/rooms/a/", "http://dav.test/sync/1")


@pytest.mark.parametrize("code", [401, 403])
def test_authentication_failure_is_rejected_not_expired(code: int) -> None:
    provider = scripted(lambda request: httpx.Response(code, content=b"Forbidden"))

    with pytest.raises(ProviderRejected) as raised:
        provider.fetch_changes("/rooms/a/", "http://dav.test/sync/1")
    assert raised.value.status == code


@pytest.mark.parametrize("code", [500, 502])
def test_server_errors_raise_provider_unavailable(code: int) -> None:
    provider = scripted(lambda request: httpx.Response(code))

    with pytest.raises(ProviderUnavailable):
        provider.fetch_changes("/rooms/a/", None)


def test_network_errors_raise_provider_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    provider = scripted(refuse)

    with pytest.raises(ProviderUnavailable):
        provider.get("/rooms/a/", "/rooms/a/x.ics")
    assert provider.counters.requests == 1


def test_truncated_sync_answer_is_followed_with_the_partial_token() -> None:
    tokens_sent = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        if "sync-collection" not in body:
            return multiget_answer(request)
        tokens_sent.append(
            body.split("<d:sync-token>")[1].split("<")[0] if "<d:sync-token>" in body else ""
        )
        if len(tokens_sent) == 1:
            return multistatus(
                member("/rooms/a/1.ics"),
                status("/rooms/a/", "507 Insufficient Storage"),
                token="t1",
            )
        return multistatus(
            member("/rooms/a/2.ics"), status("/rooms/a/gone.ics", "404 Not Found"), token="t2"
        )

    batch = scripted(answer).fetch_changes("/rooms/a/", "t0")

    assert tokens_sent == ["t0", "t1"]
    assert batch.delta_key == "t2"
    assert {(c.provider_id, c.removed) for c in batch.changes} == {
        ("/rooms/a/1.ics", False),
        ("/rooms/a/2.ics", False),
        ("/rooms/a/gone.ics", True),
    }


def test_server_without_sync_collection_is_listed_in_full_with_propfind() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PROPFIND":
            assert request.headers["Depth"] == "1"
            collection = (
                "<d:response><d:href>/rooms/a/</d:href><d:propstat><d:prop><d:resourcetype>"
                "<d:collection/></d:resourcetype></d:prop>"
                "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
            )
            return multistatus(collection, member("/rooms/a/1.ics", '"e1"'))
        if b"sync-collection" in request.content:
            return httpx.Response(403, content=dav_error("supported-report"))
        return multiget_answer(request)

    batch = scripted(answer).fetch_changes("/rooms/a/", "old-token")

    assert (batch.full, batch.delta_key) == (True, None)
    assert [(c.provider_id, c.version, c.data) for c in batch.changes] == [
        ("/rooms/a/1.ics", '"1"', b"BODY /rooms/a/1.ics")
    ]


def test_put_without_a_strong_etag_leaves_the_version_unknown_rather_than_guessed() -> None:
    """A version looked up after the PUT could be that of an edit saved in between, which
    calsync would then take for its own write."""
    asked = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.method)
        return httpx.Response(201, headers={"ETag": 'W/"weak"'})

    written = scripted(answer).create("/rooms/a/", "x", event("x"))

    assert written.version is None
    assert asked == ["PUT"]


def test_exchanges_never_show_the_authorization_header() -> None:
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(204)

    exchange = scripted(answer).delete("/rooms/a/", "/rooms/a/x.ics", '"1"')

    assert seen[0].startswith("Basic ")
    assert "Authorization" not in exchange.request
    assert "Basic" not in exchange.request
    assert 'If-Match: "1"' in exchange.request


def test_a_multiget_too_large_for_the_server_is_asked_again_in_halves() -> None:
    sizes = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        if "sync-collection" in body:
            return multistatus(*(member(f"/rooms/a/{n}.ics") for n in range(5)), token="t1")
        sizes.append(body.count("<d:href>"))
        if sizes[-1] > 2:
            return httpx.Response(400, text="REPORT occurrences limit of 10000 hit")
        return multiget_answer(request)

    batch = scripted(answer, multiget_batch=8).fetch_changes("/rooms/a/", None)

    assert sorted(c.provider_id for c in batch.changes) == [f"/rooms/a/{n}.ics" for n in range(5)]
    assert sizes == [5, 2, 3, 1, 2]  # 5 refused; 2 served; 3 refused, then 1 and 2 served
