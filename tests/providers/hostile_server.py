"""A small hostile CalDAV server on 127.0.0.1 for the tests: each test picks its behaviour.

`HostileServer(behaviour)` runs a threaded stdlib HTTP server on a free loopback port and
records every request it receives (`seen`), Authorization header included, so that a test
can tell what reached it. A behaviour maps one request to one `Answer`, whose body is sent
chunk by chunk (with a pause between chunks, for a slow drip). The behaviours:

- `calendar(hrefs)`: a calendar listing `hrefs` (foreign-origin ones too) in a
  sync-collection, serving a meeting for each in calendar-multiget, accepting writes.
- `endless_truncation()`: every sync-collection is truncated (507) with a new token.
- `drip(interval)`: a 207 whose body comes one byte every `interval` seconds;
  `drip_headers(interval)`: the status line and headers come so.
- `oversized(size, announce)`: a 207 of `size` bytes, streamed, never built in memory.
- `fixed(status, body)`: one answer to everything (malformed XML, HTML error pages...).
- `storm(status, retry_after)`: server errors with Retry-After, to every request.
- `proxy(target)`: forwards to a real server, listing every href as a full URL with
  `@` unescaped, as some servers spell them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import httpx


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: Iterable[bytes] = ()
    headers: dict[str, str] = field(default_factory=dict)
    pause: float = 0.0
    #: The body chunks are the whole answer, status line and headers included.
    raw: bool = False


Behaviour = Callable[[Seen, "HostileServer"], Answer]


class HostileServer:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
            server.record(seen)
            answer = server.behaviour(seen, server)
            if not answer.raw:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
            try:
                for chunk in answer.body:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    if answer.pause:
                        time.sleep(answer.pause)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = do_MKCALENDAR = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


# Behaviours

_XML = {"Content-Type": "application/xml; charset=utf-8"}


def multistatus(*responses: str, token: str | None = None) -> bytes:
    sync_token = f"<d:sync-token>{token}</d:sync-token>" if token else ""
    return (
        f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" '
        f'xmlns:c="urn:ietf:params:xml:ns:caldav">{"".join(responses)}{sync_token}'
        "</d:multistatus>"
    ).encode()


def member(href: str, etag: str = '"1"', data: str | None = None) -> str:
    calendar_data = f"<c:calendar-data>{data}</c:calendar-data>" if data is not None else ""
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>"
        f"<d:getetag>{etag}</d:getetag>{calendar_data}</d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def status(href: str, code: str) -> str:
    return f"<d:response><d:href>{href}</d:href><d:status>HTTP/1.1 {code}</d:status></d:response>"


def meeting(uid: str, room: str = "room-a@example.com") -> str:
    """A meeting inviting `room`, as calendar-data text (LF line ends, as XML gives them)."""
    return "\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//hostile//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20261101T000000Z",
            "DTSTART:20261203T100000Z",
            "DTEND:20261203T110000Z",
            "SUMMARY:Planning",
            "ORGANIZER:mailto:boss@example.com",
            f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{room}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


def _hrefs_asked(body: bytes) -> list[str]:
    return re.findall(r"<d:href>([^<]*)</d:href>", body.decode("utf-8", "replace"))


def calendar(hrefs: list[str]) -> Behaviour:
    """Lists `hrefs` (the collection is the request path), serves a meeting for each,
    takes every write."""

    def answer(seen: Seen, server: HostileServer) -> Answer:
        if seen.method == "REPORT" and b"sync-collection" in seen.body:
            return Answer(207, [multistatus(*map(member, hrefs), token="t1")], _XML)
        if seen.method == "REPORT":
            asked = _hrefs_asked(seen.body)
            found = [member(h, data=meeting(f"uid-{n}")) for n, h in enumerate(asked)]
            return Answer(207, [multistatus(*found)], _XML)
        if seen.method == "PUT":
            return Answer(201, headers={"ETag": '"2"'})
        if seen.method == "GET":
            return Answer(200, [meeting("uid-0").encode()], {"ETag": '"1"'})
        return Answer(204)

    return answer


def endless_truncation() -> Behaviour:
    """Every sync-collection answer is truncated, each with a token never seen before."""
    rounds = iter(range(10**9))

    def answer(seen: Seen, server: HostileServer) -> Answer:
        collection = seen.path
        body = multistatus(
            member(f"{collection}{next(rounds)}.ics"),
            status(collection, "507 Insufficient Storage"),
            token=f"t{next(rounds)}",
        )
        return Answer(207, [body], _XML)

    return answer


def drip(interval: float, total: int = 10_000) -> Behaviour:
    """A 207 whose body arrives one byte every `interval` seconds."""

    def answer(seen: Seen, server: HostileServer) -> Answer:
        body = multistatus(token="t1").ljust(total, b" ")
        return Answer(207, (body[i : i + 1] for i in range(len(body))), _XML, interval)

    return answer


def drip_headers(interval: float) -> Behaviour:
    """An answer whose status line and headers arrive one byte every `interval` seconds."""

    def answer(seen: Seen, server: HostileServer) -> Answer:
        head = b"HTTP/1.1 207 Multi-Status\r\nX-Slow: " + b"z" * 10_000 + b"\r\n\r\n"
        return Answer(207, (head[i : i + 1] for i in range(len(head))), pause=interval, raw=True)

    return answer


def oversized(size: int, announce: bool) -> Behaviour:
    """A 207 of `size` bytes, sent in 64 KiB chunks as the client reads them."""

    def chunks() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">'
        block = b"<!-- " + b"x" * (64 * 1024 - 9) + b" -->"
        for _ in range(size // len(block)):
            yield block

    def answer(seen: Seen, server: HostileServer) -> Answer:
        headers = {**_XML, "Content-Length": str(size)} if announce else _XML
        return Answer(207, chunks(), headers)

    return answer


def fixed(code: int, body: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    return lambda seen, server: Answer(code, [body], headers or _XML)


def storm(code: int, retry_after: str) -> Behaviour:
    return lambda seen, server: Answer(code, [b"busy"], {"Retry-After": retry_after})


def proxy(target: str) -> Behaviour:
    """Forward to `target`; hrefs in its answers become full URLs of this server, `@`
    unescaped, so the same object is named otherwise than in a write's URL."""

    def answer(seen: Seen, server: HostileServer) -> Answer:
        headers = {k: v for k, v in seen.headers.items() if k.lower() not in ("host", "connection")}
        sent = httpx.request(
            seen.method, target + seen.path, headers=headers, content=seen.body, timeout=30
        )
        body = sent.content
        if sent.status_code == 207:
            body = re.sub(
                rb"<(\w+:)?href>(/[^<]*)</(\w+:)?href>",
                lambda m: (
                    b"<%shref>%s%s</%shref>"
                    % (m[1] or b"", server.url.encode(), m[2].replace(b"%40", b"@"), m[3] or b"")
                ),
                body,
            )
        kept = {k: v for k, v in sent.headers.items() if k.lower() in ("etag", "content-type")}
        return Answer(sent.status_code, [body], kept)

    return answer
