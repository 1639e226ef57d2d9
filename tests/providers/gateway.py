"""A loopback reverse proxy in front of a CalDAV server (Radicale), as a company's gateway
stands in front of its calendar service, for the tests:

- `token`: only requests carrying `Authorization: Bearer <token>` pass; any other is
  refused with 401 and a `WWW-Authenticate: Bearer` challenge (Radicale itself has no
  bearer authentication). The header is not passed on.
- `throttle_next(count, status, retry_after)`: the next `count` requests are answered
  with `status` (429, 503) and that `Retry-After`, unforwarded, as a busy service does.

`seen` records (method, path, Authorization header) of every request received."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


#: What a loopback server answers to (method, path, headers, body).
Answer = Callable[[str, str, dict[str, str], bytes], httpx.Response]


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client gone (or killed) mid-request is no news here


def forwarding_server(answer: Answer) -> LoopbackServer:
    """A server on a free loopback port relaying every request to `answer` and its
    response back (hop-by-hop headers left out)."""
    return LoopbackServer(("127.0.0.1", 0), _handler(answer))


class Gateway:
    def __init__(self, upstream: str, token: str | None = None) -> None:
        self.upstream, self.token = upstream.rstrip("/"), token
        self.seen: list[tuple[str, str, str]] = []
        self._throttled: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30.0)
        # Looked up at each request: a test may replace `answer` on a running gateway.
        self.server = forwarding_server(lambda *request: self.answer(*request))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def throttle_next(self, count: int, status: int = 429, retry_after: str = "30") -> None:
        with self._lock:
            self._throttled += [(status, retry_after)] * count

    def refused(self) -> int:
        """How many requests were refused for a missing or wrong token."""
        expected = f"Bearer {self.token}"
        return sum(1 for _, _, sent in self.seen if self.token and sent != expected)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        sent = headers.pop("Authorization", "")
        with self._lock:
            self.seen.append((method, path, sent))
            throttled = self._throttled.pop(0) if self._throttled else None
        if self.token is not None and sent != f"Bearer {self.token}":
            challenge = 'Bearer realm="calendar", error="invalid_token"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge}, text="refused")
        if throttled is not None:
            status, delay = throttled
            return httpx.Response(status, headers={"Retry-After": delay}, text="slow down")
        return self._client.request(method, self.upstream + path, headers=headers, content=body)

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            answered = answer(self.command, self.path, headers, body)
            self.send_response(answered.status_code)
            for key, value in answered.headers.items():
                if key.lower() not in _HOP | {"content-encoding"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answered.content)))
            self.end_headers()
            self.wfile.write(answered.content)

        do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = do_OPTIONS = _forward
        do_MKCALENDAR = do_MKCOL = do_POST = do_HEAD = _forward

        def log_message(self, *args: object) -> None:
            pass

    return Handler
