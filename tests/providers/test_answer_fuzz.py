"""The CalDAV answer parser and the adapter's read path take bad input: generated answers
and a corpus of real-world oddities. Each ends as an answer read, a refused change, or a
ProviderError naming what was wrong: never another exception, never a hang."""

from __future__ import annotations

import codecs
from collections.abc import Callable

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.bootstrap import start
from calsync.config import parse
from calsync.errors import ProviderError
from calsync.providers.base import ChangeBatch
from calsync.providers.caldav import CalDAVProvider
from calsync.providers.webdav import Multistatus, parse_multistatus
from calsync.worker.runner import request_sync, run_event
from tests.sync.calendars import claim, room_settings

pytestmark = pytest.mark.timeout(120)
CALENDAR = "/rooms/a/"
D = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"'
OK = "<d:status>HTTP/1.1 200 OK</d:status>"
EVENT = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nEND:VCALENDAR\n"


def ms(body: str, head: str = "") -> bytes:
    return f"{head}<d:multistatus {D}>{body}</d:multistatus>".encode()


def ok(href: str, data: str = "") -> str:
    calendar_data = f"<c:calendar-data>{data}</c:calendar-data>" if data else ""
    return (
        f'<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag>'
        f"{calendar_data}</d:prop>{OK}</d:propstat></d:response>"
    )


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)
CORPUS: dict[str, bytes] = {
    "empty body": b"",
    "whitespace": b"  \r\n ",
    "no sync-token": ms(ok(f"{CALENDAR}1.ics", EVENT)),
    "empty sync-token": ms(ok(f"{CALENDAR}1.ics") + "<d:sync-token/>"),
    "href without propstat": ms(f"<d:response><d:href>{CALENDAR}1.ics</d:href></d:response>"),
    "response without href": ms(f"<d:response><d:propstat><d:prop/>{OK}</d:propstat></d:response>"),
    "status in lowercase": ms(
        f"<d:response><d:href>{CALENDAR}1.ics</d:href>"
        "<d:status>http/1.1 404 not found</d:status></d:response>"
    ),
    "status without a code": ms(
        f"<d:response><d:href>{CALENDAR}1.ics</d:href><d:status>HTTP/1.1</d:status></d:response>"
    ),
    "status with four digits": ms(
        f"<d:response><d:href>{CALENDAR}1.ics</d:href>"
        "<d:status>HTTP/1.1 2000 OK</d:status></d:response>"
    ),
    "status not HTTP": ms(
        f"<d:response><d:href>{CALENDAR}1.ics</d:href><d:status>fine</d:status></d:response>"
    ),
    "namespace missing": b"<multistatus><response><href>/rooms/a/1.ics</href></response>"
    b"</multistatus>",
    "other namespace": b'<m:multistatus xmlns:m="urn:other"/>',
    "default namespace": (
        f'<multistatus xmlns="DAV:"><response><href>{CALENDAR}1.ics</href><propstat><prop>'
        '<getetag>"1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>'
        "<sync-token>t1</sync-token></multistatus>"
    ).encode(),
    "50,000 responses": ms("".join(ok(f"{CALENDAR}{n}.ics") for n in range(50_000))),
    "billion laughs": (
        LAUGHS + f"<d:multistatus {D}><d:href>&lol9;</d:href></d:multistatus>"
    ).encode(),
    "external entity": (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f"<d:multistatus {D}><d:response><d:href>&x;</d:href>{OK}</d:response></d:multistatus>"
    ).encode(),
    "DOCTYPE alone": ms(ok(f"{CALENDAR}1.ics"), '<!DOCTYPE multistatus SYSTEM "dav.dtd">'),
    "parameter entity": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM '
    b'"http://127.0.0.1:1/x.dtd"> %p;]><d:multistatus xmlns:d="DAV:"/>',
    "latin-1 declared": ms(ok(f"{CALENDAR}caf\xe9.ics"), '<?xml version="1.0" encoding="latin-1"?>')
    .decode()
    .encode("latin-1"),
    "latin-1 bytes undeclared": ms(ok(f"{CALENDAR}caf\xe9.ics")).decode().encode("latin-1"),
    "unknown encoding": ms("", '<?xml version="1.0" encoding="x-nonsense-8"?>'),
    "UTF-16 with BOM": codecs.BOM_UTF16_LE
    + ms(ok(f"{CALENDAR}1.ics")).decode().encode("utf-16-le"),
    "UTF-8 BOM": codecs.BOM_UTF8 + ms(ok(f"{CALENDAR}1.ics")),
    "NUL bytes": ms(ok(f"{CALENDAR}1.ics")).replace(b"1.ics", b"1\x00.ics"),
    "HTML error page": b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad"
    b" Gateway</h1></body></html>",
    "HTML, not well-formed": b"<html><body><p>Service unavailable<br></body></html>",
    "JSON": b'{"error": "unauthorized"}',
    "truncated": ms(ok(f"{CALENDAR}1.ics"))[:-20],
    "deeply nested": ("<d:x>" * 5000 + "</d:x>" * 5000)
    .encode()
    .join([f"<d:multistatus {D}>".encode(), b"</d:multistatus>"]),
    "very long href": ms(ok(CALENDAR + "a" * 200_000 + ".ics")),
    "href to another host": ms(ok("http://elsewhere.test/rooms/a/1.ics", EVENT), ""),
    "href outside the calendar": ms(ok("/rooms/b/1.ics", EVENT)),
    "href with a bad port": ms(ok("http://dav.test:99999/rooms/a/1.ics", EVENT)),
    "href as a bad IPv6 URL": ms(ok("http://[::1/rooms/a/1.ics", EVENT)),
    "empty href": ms(ok("", EVENT)),
    "comments and PIs everywhere": ms(
        f"<!--c--><d:response><?pi x?><d:href>{CALENDAR}1.ics<!--c--></d:href><!--c-->"
        f'<d:propstat><d:prop><!--c--><d:getetag>"1"</d:getetag></d:prop>{OK}</d:propstat>'
        "</d:response>"
    ),
    "CDATA calendar-data": ms(ok(f"{CALENDAR}1.ics", f"<![CDATA[{EVENT}]]>")),
    "calendar-data holding XML": ms(ok(f"{CALENDAR}1.ics", "<x>not text</x>")),
    "two statuses": ms(
        f"<d:response><d:href>{CALENDAR}1.ics</d:href><d:status>HTTP/1.1 200 OK</d:status>"
        "<d:status>nonsense</d:status></d:response>"
    ),
    "propstat 404 only": ms(
        f"<d:response><d:href>{CALENDAR}1.ics</d:href><d:propstat><d:prop><d:getetag/>"
        "</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"
    ),
}


def settle(action: Callable[[], object]) -> object:
    """What `action` gave, or the ProviderError it raised; anything else fails the test."""
    try:
        return action()
    except ProviderError as error:
        caught = error
    assert str(caught), f"{type(caught).__name__} without a message"
    return caught


def serving(body: bytes, status: int = 207) -> CalDAVProvider:
    """An adapter whose server answers every request with `body`."""
    return CalDAVProvider(
        "http://dav.test",
        "room",
        "secret",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, content=body)),
    )


def multiget_serving(body: bytes) -> CalDAVProvider:
    """An adapter whose server lists three members, then answers their multiget with `body`."""
    listing = ms(
        "".join(ok(f"{CALENDAR}{n}.ics") for n in range(3)) + "<d:sync-token>t</d:sync-token>"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        sync = b"sync-collection" in request.content
        return httpx.Response(207, content=listing if sync else body)

    return CalDAVProvider("http://dav.test", transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("name", list(CORPUS))
def test_an_odd_answer_is_read_or_refused_with_a_provider_error(name):
    body = CORPUS[name]
    parsed = settle(lambda: parse_multistatus(body))
    assert isinstance(parsed, Multistatus | ProviderError)
    for provider in (serving(body), multiget_serving(body)):
        with provider:
            read = settle(lambda p=provider: p.fetch_changes(CALENDAR, None))
            assert isinstance(read, ChangeBatch | ProviderError)
            incremental = settle(lambda p=provider: p.fetch_changes(CALENDAR, "t0"))
            assert isinstance(incremental, ChangeBatch | ProviderError)


def test_entities_are_never_expanded_nor_fetched():
    for name in ("billion laughs", "external entity", "parameter entity", "DOCTYPE alone"):
        with pytest.raises(ProviderError, match=r"DOCTYPE|entity amplification"):
            parse_multistatus(CORPUS[name])


def test_a_status_line_in_lowercase_is_read():
    [member] = parse_multistatus(CORPUS["status in lowercase"]).members
    assert member.status == 404


def test_a_response_saying_nothing_of_its_member_is_an_error_not_a_deletion():
    with pytest.raises(ProviderError, match="has no status"):
        parse_multistatus(CORPUS["href without propstat"])


def test_foreign_or_broken_hrefs_in_a_listing_are_refused_changes_and_the_rest_is_read():
    listing = ms(
        "".join(
            ok(href)
            for href in (
                "http://elsewhere.test/rooms/a/1.ics",
                "http://dav.test:99999/rooms/a/2.ics",
                "http://[::1/rooms/a/3.ics",
                f"{CALENDAR}ok.ics",
            )
        )
        + "<d:sync-token>t1</d:sync-token>"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if b"sync-collection" in request.content:
            return httpx.Response(207, content=listing)
        return httpx.Response(207, content=ms(ok(f"{CALENDAR}ok.ics", EVENT)))

    with CalDAVProvider("http://dav.test", transport=httpx.MockTransport(answer)) as provider:
        batch = provider.fetch_changes(CALENDAR, None)
    assert len([change for change in batch.changes if change.refused]) == 3
    assert [c.provider_id for c in batch.changes if not c.refused] == [f"{CALENDAR}ok.ics"]


# Generated answers

_NAMES = st.sampled_from(
    [
        "d:multistatus",
        "d:response",
        "d:href",
        "d:status",
        "d:propstat",
        "d:prop",
        "d:getetag",
        "c:calendar-data",
        "d:sync-token",
        "d:resourcetype",
        "d:collection",
        "x:other",
        "response",
        "href",
    ]
)
_TEXTS = st.one_of(
    st.sampled_from(
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 404 Not Found",
            "HTTP/1.1 507 Insufficient Storage",
            "http/1.1 200 ok",
            "HTTP/1.1 999",
            "HTTP/2 20",
            "/rooms/a/1.ics",
            "/rooms/a/",
            "http://dav.test/rooms/a/2.ics",
            "http://other.test:8080/rooms/a/3.ics",
            "http://[::1/x",
            "//evil.test/rooms/a/4.ics",
            "../../etc/passwd",
            "/rooms/a/%zz.ics",
            '"etag"',
            EVENT,
            "",
        ]
    ),
    st.text(max_size=40),
)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> str:
    name = draw(_NAMES)
    if depth >= 4 or draw(st.booleans()):
        inner = _escape(draw(_TEXTS))
    else:
        inner = "".join(draw(st.lists(elements(depth + 1), max_size=4)))
    return f"<{name}>{inner}</{name}>"


def _escape(text: str) -> str:
    cleaned = "".join(
        ch for ch in text if ch in "\t\n\r" or (" " <= ch < "\ud800") or ch > "\ufffd"
    )
    return cleaned.replace("&", "&amp;").replace("<", "&lt;")


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["tree", "mangled", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    inner = "".join(draw(st.lists(elements(), max_size=5)))
    body = (
        f'<d:multistatus xmlns:d="DAV:" xmlns:c="{CALDAV}" xmlns:x="urn:x">{inner}</d:multistatus>'
    )
    data = body.encode()
    if kind == "mangled" and data:
        cut = draw(st.integers(0, len(data) - 1))
        data = data[:cut] + draw(st.binary(max_size=8)) + data[cut + 1 :]
    return data


CALDAV = "urn:ietf:params:xml:ns:caldav"
_FUZZ = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@_FUZZ
@given(answers())
def test_a_generated_answer_is_read_or_refused_by_the_parser(body):
    assert isinstance(settle(lambda: parse_multistatus(body)), Multistatus | ProviderError)


@_FUZZ
@given(answers(), st.sampled_from([200, 207, 207, 207, 403, 409, 500]))
def test_a_generated_answer_is_read_or_refused_by_the_adapter(body, status):
    with serving(body, status) as provider:
        read = settle(lambda: provider.fetch_changes(CALENDAR, "t0"))
    assert isinstance(read, ChangeBatch | ProviderError)
    with multiget_serving(body) as provider:
        read = settle(lambda: provider.fetch_changes(CALENDAR, None))
    assert isinstance(read, ChangeBatch | ProviderError)


@_FUZZ
@given(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["²", "9" * 400, "-1", "1e9", "Mon, 01 Jan 99999 00:00:00 GMT"]),
    )
)
def test_any_retry_after_is_a_delay_of_at_most_a_day_or_none(value):
    def answer(request: httpx.Request) -> httpx.Response:
        raw = value.encode("utf-8", "replace").translate(None, b"\r\n\x00")
        return httpx.Response(503, headers=[(b"Retry-After", raw)])

    with CalDAVProvider("http://dav.test", transport=httpx.MockTransport(answer)) as provider:
        raised = settle(lambda: provider.fetch_changes(CALENDAR, None))
    assert isinstance(raised, ProviderError)
    delay = getattr(raised, "retry_after", None)
    assert delay is None or 0 <= delay <= 86400


@pytest.mark.parametrize("length", [b"\xb2", b"-1", b"1e9", b"9" * 30, b"", b"12, 12"])
def test_an_odd_content_length_is_read_or_refused_with_a_provider_error(length):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            207, headers=[(b"Content-Length", length)], content=CORPUS["no sync-token"]
        )

    with CalDAVProvider("http://dav.test", transport=httpx.MockTransport(answer)) as provider:
        read = settle(lambda: provider.fetch_changes(CALENDAR, None))
    assert isinstance(read, ChangeBatch | ProviderError)


@pytest.fixture
def services_reading(tmp_path, clock):
    """Services whose connection answers each read with the body a test puts in `served`."""
    served: dict[str, bytes] = {}
    settings = parse(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'calsync.db'}"},
            "connections": {"dav": {"kind": "caldav", "url": "http://dav.test"}},
            "items": room_settings(CALENDAR),
        }
    )
    services = start(settings, clock)

    def answer(request: httpx.Request) -> httpx.Response:
        if b"sync-collection" in request.content:
            return httpx.Response(207, content=served["listing"])
        return httpx.Response(207, content=served["multiget"])

    services.providers["dav"] = CalDAVProvider(
        "http://dav.test", transport=httpx.MockTransport(answer)
    )
    yield services, served
    services.close()


def test_a_synchronization_meeting_any_odd_answer_ends_as_a_result_never_a_crash(
    services_reading,
):
    services, served = services_reading
    listing = ms(ok(f"{CALENDAR}1.ics") + "<d:sync-token>t1</d:sync-token>")
    outcomes = set()
    for name, body in CORPUS.items():
        for served["listing"], served["multiget"] in ((body, body), (listing, body)):
            result = run_event(services, claim(services, request_sync(services, "Room A", True)))
            outcomes.add(result.state)  # read, or retried with backoff, or given up
            assert result.state == "processed" or result.error, name
    assert outcomes == {"processed", "new", "error"}
