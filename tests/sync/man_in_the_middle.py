"""A man in the middle between calsync and a real Radicale.

`Wire` is an httpx transport that forwards to the server and lets a test act at one
exact moment of an exchange (the organizer saves a change just before calsync's PUT,
say), answer a request itself (a 503), or rewrite what the server answered (no ETag, a
weak one, as a reverse proxy that compresses answers does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from calsync.providers.caldav import CalDAVProvider

Request = httpx.Request
Response = httpx.Response


@dataclass
class Hook:
    """Runs `act` before the `nth` request matching `method` (and `when`), once."""

    method: str
    act: Callable[[Request], Response | None]
    nth: int = 1
    when: Callable[[Request, list[str]], bool] = lambda request, seen: True
    seen: int = 0
    done: bool = False


@dataclass
class Wire(httpx.BaseTransport):
    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    hooks: list[Hook] = field(default_factory=list)
    rewrites: list[Callable[[Request, Response], Response]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def handle_request(self, request: Request) -> Response:
        for hook in self.hooks:
            if hook.done or request.method != hook.method:
                continue
            if not hook.when(request, self.methods):
                continue
            hook.seen += 1
            if hook.seen == hook.nth:
                hook.done = True
                answered = hook.act(request)
                if answered is not None:
                    self.methods.append(request.method)
                    return answered
        self.methods.append(request.method)
        response = self.inner.handle_request(request)
        for rewrite in self.rewrites:
            response = rewrite(request, response)
        return response

    def close(self) -> None:
        self.inner.close()


def wired(services, radicale_url: str) -> Wire:
    """Route the services' connection "dav" through a new `Wire`."""
    wire = Wire()
    services.providers["dav"] = CalDAVProvider(radicale_url, timeout=10.0, transport=wire)
    return wire


def _with_headers(request: Request, response: Response, headers: dict[str, str | None]) -> Response:
    response.read()
    kept = {k: v for k, v in response.headers.items() if k.lower() not in headers}
    kept.update({k: v for k, v in headers.items() if v is not None})
    kept.pop("content-length", None)
    kept.pop("content-encoding", None)
    return Response(response.status_code, headers=kept, content=response.content, request=request)


def without_etag_on(method: str) -> Callable[[Request, Response], Response]:
    """The server answers `method` without an ETag header."""

    def rewrite(request: Request, response: Response) -> Response:
        if request.method != method:
            return response
        return _with_headers(request, response, {"etag": None})

    return rewrite


def weak_etag_on_get(request: Request, response: Response) -> Response:
    """A compressing reverse proxy: a GET's strong ETag comes back weak (W/"...")."""
    etag = response.headers.get("etag")
    if request.method != "GET" or not etag or etag.startswith("W/"):
        return response
    return _with_headers(request, response, {"etag": f"W/{etag}"})


def unavailable(request: Request) -> Response:
    return Response(503, headers={"Retry-After": "1"}, request=request)


def no_etags_at_all(request: Request, response: Response) -> Response:
    """A server that keeps no ETags: no header, no getetag property."""
    import re

    response.read()
    content = re.sub(
        rb"<([A-Za-z0-9]+:)?getetag>[^<]*</([A-Za-z0-9]+:)?getetag>", b"", response.content
    )
    kept = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("etag", "content-length", "content-encoding")
    }
    return Response(response.status_code, headers=kept, content=content, request=request)
