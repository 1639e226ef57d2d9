"""A server is trusted only with what is its own: the CalDAV adapter, and the worker running
it, against a hostile server on 127.0.0.1 (`tests.providers.hostile_server`) and against
Radicale behind a proxy that spells hrefs otherwise.

Each case ends with a clear outcome: a failed calendar item, a calsync error naming what
was wrong, or an event retried with backoff, and never a request outside the origin.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from calsync.bootstrap import Services, start
from calsync.config import parse
from calsync.errors import ProviderRejected, ProviderThrottled, ProviderUnavailable
from calsync.providers.caldav import CalDAVProvider
from calsync.providers.hrefs import canonical_id
from calsync.providers.wire import LimitExceeded, Limits
from calsync.store.records import RecordFilter
from calsync.worker.runner import request_sync, run_once
from tests.providers import hostile_server as hostile
from tests.providers.hostile_server import HostileServer
from tests.sync.calendars import drain, ics, reservations, room_settings, sync, vevent

pytestmark = pytest.mark.timeout(60)
CALENDAR = "/rooms/a/"
PASSWORD = "hostile-test-password-41"


@pytest.fixture
def hostile_services(database_url, clock, monkeypatch):
    monkeypatch.setenv("CALSYNC_TEST_DAV_PASSWORD", PASSWORD)
    made: list[Services] = []

    def make(url: str, calendar: str = CALENDAR, **connection: object) -> Services:
        settings = parse(
            {
                "database": {"url": database_url},
                "sync": {"backoff_seconds": 1.0, "max_attempts": 3},
                "connections": {
                    "dav": {
                        "kind": "caldav",
                        "url": url,
                        "username": "calsync",
                        "password_env": "CALSYNC_TEST_DAV_PASSWORD",
                        **connection,
                    }
                },
                "items": room_settings(calendar),
            }
        )
        services = start(settings, clock)
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


def calendar_items(services: Services):
    with services.uow() as uow:
        return uow.calendar_items.find(RecordFilter())


def events(services: Services):
    with services.uow() as uow:
        return uow.events.find(RecordFilter())


# Origin


def test_a_listing_naming_another_port_gets_no_request_there_not_even_the_rooms_answer(
    hostile_services,
):
    with (
        HostileServer(hostile.fixed(200, b"")) as foreign,
        HostileServer(
            hostile.calendar(
                [f"{CALENDAR}good.ics", f"http://127.0.0.1:{foreign.port}{CALENDAR}evil.ics"]
            )
        ) as server,
    ):
        services = hostile_services(server.url)
        request_sync(services, "Room A")
        drain(services)  # the read, then the room's answer to what it read

        assert foreign.seen == []
        written = [seen for seen in server.seen if seen.method == "PUT"]
        assert [seen.path for seen in written] == [f"{CALENDAR}good.ics"]
        assert written[0].headers["Authorization"].startswith("Basic ")
    [refused] = [item for item in calendar_items(services) if item.status == "failed"]
    assert refused.provider_id.endswith(f":{foreign.port}{CALENDAR}evil.ics")
    assert "refused href" in refused.error
    assert "another origin" in refused.error
    assert [r.provider_id for r in reservations(services)] == [f"{CALENDAR}good.ics"]


def test_a_provider_id_outside_the_origin_is_refused_before_anything_is_sent():
    with (
        HostileServer(hostile.fixed(200, b"")) as foreign,
        HostileServer(hostile.calendar([])) as server,
        CalDAVProvider(server.url, "calsync", PASSWORD) as provider,
    ):
        elsewhere = f"http://127.0.0.1:{foreign.port}{CALENDAR}x.ics"
        for write in (
            lambda: provider.update(CALENDAR, elsewhere, b"BEGIN:VCALENDAR", '"1"'),
            lambda: provider.delete(CALENDAR, elsewhere, None),
            lambda: provider.get(CALENDAR, elsewhere),
            lambda: provider.update(CALENDAR, "//127.0.0.1:1/x.ics", b"", None),
        ):
            with pytest.raises(ProviderRejected, match="outside the connection's origin"):
                write()
        assert foreign.seen == server.seen == []


@pytest.mark.parametrize("provider_id", ["http://[::1/x.ics", f"{CALENDAR}x\x00y.ics"])
def test_a_provider_id_that_is_no_url_is_refused_before_anything_is_sent(provider_id):
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(204))

    with CalDAVProvider("http://dav.test", transport=transport) as provider:
        for write in (
            lambda: provider.delete(CALENDAR, provider_id, None),
            lambda: provider.get(CALENDAR, provider_id),
        ):
            with pytest.raises(ProviderRejected):
                write()
    assert sent == []


def scripted(base_url: str, listing: list[str], asked: list[str]) -> CalDAVProvider:
    def answer(request: httpx.Request) -> httpx.Response:
        if b"sync-collection" in request.content:
            body = hostile.multistatus(*map(hostile.member, listing), token="t1")
            return httpx.Response(207, content=body)
        hrefs = hostile._hrefs_asked(request.content)
        asked.extend(hrefs)
        members = [hostile.member(h, data=hostile.meeting(h)) for h in hrefs]
        return httpx.Response(207, content=hostile.multistatus(*members))

    return CalDAVProvider(base_url, transport=httpx.MockTransport(answer))


def test_an_http_href_under_an_https_connection_is_refused_and_the_rest_is_read():
    asked: list[str] = []
    provider = scripted(
        "https://dav.test", [f"http://dav.test{CALENDAR}plain.ics", f"{CALENDAR}ok.ics"], asked
    )

    batch = provider.fetch_changes(CALENDAR, None)

    assert asked == [f"{CALENDAR}ok.ics"]
    refused = {c.provider_id: c.refused for c in batch.changes if c.refused}
    assert list(refused) == [f"http://dav.test{CALENDAR}plain.ics"]
    assert (
        "an http href under an https connection" in refused[f"http://dav.test{CALENDAR}plain.ics"]
    )
    assert [c.provider_id for c in batch.changes if not c.refused] == [f"{CALENDAR}ok.ics"]


def test_an_href_outside_the_calendar_is_refused_even_at_the_same_origin():
    asked: list[str] = []
    listing = ["/rooms/b/other-room.ics", f"{CALENDAR}../b/x.ics", f"{CALENDAR}ok.ics"]
    provider = scripted("http://dav.test", listing, asked)

    batch = provider.fetch_changes(CALENDAR, None)

    assert asked == [f"{CALENDAR}ok.ics"]
    refused = [c for c in batch.changes if c.refused]
    assert [c.provider_id for c in refused] == listing[:2]
    assert all("not a member of /rooms/a/" in (c.refused or "") for c in refused)


def test_a_server_echoing_the_authorization_header_has_it_redacted_in_the_exchange():
    def echo(seen: hostile.Seen, server: HostileServer) -> hostile.Answer:
        sent = seen.headers["Authorization"]
        page = f"stored. You sent {sent} = {base64.b64decode(sent[6:]).decode()}"
        return hostile.Answer(201, [page.encode()], {"ETag": '"1"'})

    with (
        HostileServer(echo) as server,
        CalDAVProvider(server.url, "calsync", PASSWORD) as provider,
    ):
        written = provider.create(CALENDAR, "m1", b"BEGIN:VCALENDAR")

    basic = base64.b64encode(f"calsync:{PASSWORD}".encode()).decode()
    assert written.exchange.response.endswith("stored. You sent Basic [redacted] = [redacted]")
    assert PASSWORD not in written.exchange.response
    assert basic not in written.exchange.response


def test_an_href_too_long_to_be_kept_is_refused():
    asked: list[str] = []
    long_href = f"{CALENDAR}{'x' * 1000}.ics"
    provider = scripted("http://dav.test", [long_href, f"{CALENDAR}ok.ics"], asked)

    batch = provider.fetch_changes(CALENDAR, None)

    assert asked == [f"{CALENDAR}ok.ics"]
    [refused] = [c for c in batch.changes if c.refused]
    assert "over 1000 characters" in (refused.refused or "")


# Canonical provider ids


def test_one_object_has_one_provider_id_however_the_server_spells_its_href():
    spellings = [
        "/rooms/a/m1%40example.com.ics",
        "/rooms/a/m1@example.com.ics",
        "http://dav.test/rooms/a/m1%40example.com.ics",
        "http://dav.test:80/rooms/a/m1@example%2ecom.ics",
    ]
    assert {canonical_id(href) for href in spellings} == {"/rooms/a/m1%40example.com.ics"}


@pytest.mark.radicale
def test_with_a_server_listing_full_urls_a_writes_echo_is_recognised_and_nothing_is_swept(
    hostile_services, radicale, room_calendar
):
    with HostileServer(hostile.proxy(radicale.url)) as proxy:
        services = hostile_services(proxy.url, calendar=room_calendar)
        provider = services.provider("dav")
        entry = ics(vevent("m1@example.com", "20261203T100000", "20261203T110000", "Plan"))
        provider.create(room_calendar, "m1@example.com", entry)
        request_sync(services, "Room A")
        drain(services)  # read, then the room's answer written back (PARTSTAT)
        assert any(seen.method == "PUT" for seen in proxy.seen[1:])

        echo = sync(services)
        full = sync(services, full=True)

    with services.uow() as uow:
        echoed = uow.calendar_items.find(RecordFilter(synchronization_id=echo.synchronization_id))
        relisted = uow.calendar_items.find(RecordFilter(synchronization_id=full.synchronization_id))
    assert [(i.status, i.outcome) for i in echoed] == [("skipped", "echo of our own write")]
    # A full synchronization applies the entry again (it repairs): nothing new, nothing gone.
    assert [(i.kind, i.status) for i in relisted] == [("reservation_update", "skipped")]
    [reservation] = reservations(services)
    assert reservation.status == "confirmed"
    assert reservation.provider_id == f"{room_calendar}m1%40example.com.ics"


# Limits


def test_a_server_dripping_one_byte_every_half_second_fails_by_the_deadline():
    with (
        HostileServer(hostile.drip(0.5)) as server,
        CalDAVProvider(server.url, limits=Limits(deadline_seconds=2.0)) as provider,
    ):
        began = time.monotonic()
        with pytest.raises(LimitExceeded, match="deadline_seconds = 2"):
            provider.fetch_changes(CALENDAR, None)
        assert time.monotonic() - began < 3.5


def test_a_server_dripping_its_status_line_and_headers_fails_by_the_deadline():
    with (
        HostileServer(hostile.drip_headers(0.5)) as server,
        CalDAVProvider(server.url, limits=Limits(deadline_seconds=2.0)) as provider,
    ):
        began = time.monotonic()
        with pytest.raises(LimitExceeded, match="deadline_seconds = 2"):
            provider.fetch_changes(CALENDAR, None)
        assert time.monotonic() - began < 3.5


def test_an_answer_announcing_600_mb_fails_before_its_body_is_read():
    with (
        HostileServer(hostile.oversized(600 * 1024 * 1024, announce=True)) as server,
        CalDAVProvider(server.url) as provider,
    ):
        with pytest.raises(LimitExceeded, match="announces 629145600 bytes"):
            provider.fetch_changes(CALENDAR, None)
        assert provider.counters.bytes_received < 1024 * 1024


def test_an_oversized_answer_without_a_length_fails_once_it_passes_the_cap():
    cap = 2 * 1024 * 1024
    with (
        HostileServer(hostile.oversized(600 * 1024 * 1024, announce=False)) as server,
        CalDAVProvider(server.url, limits=Limits(max_answer_bytes=cap)) as provider,
    ):
        with pytest.raises(LimitExceeded, match=f"passed max_answer_bytes = {cap}"):
            provider.fetch_changes(CALENDAR, None)
        assert provider.counters.bytes_received < 2 * cap


def test_an_endless_chain_of_truncated_sync_answers_stops_after_max_sync_rounds():
    with (
        HostileServer(hostile.endless_truncation()) as server,
        CalDAVProvider(server.url, limits=Limits(max_sync_rounds=5)) as provider,
    ):
        with pytest.raises(LimitExceeded, match="5 times in a row"):
            provider.fetch_changes(CALENDAR, "t0")
        assert len(server.seen) == 5


def test_malformed_xml_in_a_207_is_an_unavailable_server_not_a_crash():
    truncated = b"<d:multistatus xmlns:d='DAV:'><d:response>"
    with (
        HostileServer(hostile.fixed(207, truncated)) as server,
        CalDAVProvider(server.url) as provider,
        pytest.raises(ProviderUnavailable, match="unreadable XML"),
    ):
        provider.fetch_changes(CALENDAR, None)


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_a_server_error_with_retry_after_is_throttling_with_that_delay(code):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    for retry_after, seconds in (("30", 30), (later, 90)):
        with (
            HostileServer(hostile.storm(code, retry_after)) as server,
            CalDAVProvider(server.url) as provider,
        ):
            with pytest.raises(ProviderThrottled, match=f"answered {code}") as raised:
                provider.fetch_changes(CALENDAR, None)
            assert raised.value.retry_after == pytest.approx(seconds, abs=3)


def test_a_storm_of_server_errors_is_retried_with_backoff_then_left_in_error(
    hostile_services, clock
):
    with HostileServer(hostile.storm(500, "30")) as server:
        services = hostile_services(server.url)
        event_id = request_sync(services, "Room A")
        states, waits = [], []
        for _ in range(3):
            [run] = run_once(services)
            states.append(run.state)
            [event] = [e for e in events(services) if e.id == event_id]
            if run.state == "new":
                waits.append(event.next_attempt_at - clock())
            clock.advance(seconds=31)
        assert states == ["new", "new", "error"]
        assert all(wait >= timedelta(seconds=30) for wait in waits)  # Retry-After honoured
        assert len(server.seen) == 3
    assert event.error == f"ProviderThrottled: REPORT {server.url}{CALENDAR} answered 500"


def test_a_broken_limit_fails_the_read_with_a_message_naming_the_setting_and_is_retried(
    hostile_services, clock
):
    with HostileServer(hostile.endless_truncation()) as server:
        services = hostile_services(server.url, max_sync_rounds=3)
        event_id = request_sync(services, "Room A")
        [run] = run_once(services)
    assert run.state == "new"  # retried with backoff, as an unreachable server is
    [event] = [e for e in events(services) if e.id == event_id]
    assert event.attempts == 1
    assert event.next_attempt_at > clock()
    assert "LimitExceeded" in event.error
    assert "max_sync_rounds = 3" in event.error
    assert len(server.seen) == 3
