"""The HTTP side: a threaded stdlib server on 127.0.0.1 that hands each request to a function.

HTTP/1.1 with keep-alive; every answer has a Content-Length. An answer is gzip-compressed
when the client accepts it (`Accept-Encoding: gzip`, which httpx sends by default), as
Google's front ends do.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .errors import parse_error


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: For the request log: which API operation and calendar it was.
    operation: str | None = None
    calendar_id: str | None = None


Serve = Callable[[HttpRequest], HttpAnswer]
Served = Callable[[HttpRequest, HttpAnswer, int], None]


class EmulatorServer:
    """Binds a free loopback port at once; serves from a thread between start() and stop()."""

    def __init__(self, serve: Serve, served: Served) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(serve, served))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},  # stop() waits at most this long
                name="google-emulator",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()


def _handler(serve: Serve, served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Status line, headers and body leave in one write, without Nagle's delay: else
        # every answer waits for the client's delayed ACK (tens of milliseconds).
        wbufsize = -1
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._answer()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            answer = serve(request)
            body, headers = answer.body, dict(answer.headers)
            if body and "gzip" in request.headers.get("accept-encoding", ""):
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
                headers["Vary"] = "Origin, X-Origin, Referer"
            served(request, answer, len(body))  # logged before the client can see the answer
            self.send_response(answer.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


def json_body(request: HttpRequest) -> Any:
    """The JSON body of a write (None when there is none); Google's 400 parseError if bad."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.body.strip():
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise parse_error() from None


def json_answer(
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    operation: str | None = None,
    calendar_id: str | None = None,
) -> HttpAnswer:
    """An answer with a JSON body, or with none (204, 304) when `body` is None."""
    if body is None:
        return HttpAnswer(status, b"", headers or {}, operation, calendar_id)
    return HttpAnswer(
        status,
        json.dumps(body).encode(),
        {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
        operation,
        calendar_id,
    )
