"""One HTTP request of a CalDAV connection, under the connection's limits: `Wire.send`.

Before a request is sent, its URL must be at the connection's origin (`hrefs.Origin`), so
the credentials never go anywhere else. The answer is streamed, not read at once, so that
two limits hold while it arrives (`Limits`):

- `deadline_seconds`: the whole exchange (sending, waiting, reading the answer) ends by
  then. httpx's `timeout` bounds each read only, and a server sending one byte every half
  second would never trip it. The deadline caps each socket read and write
  (`calsync.providers.deadlines`, headers included) and is checked as the body arrives.
- `max_answer_bytes`: an answer announcing more (Content-Length) fails before its body is
  read; one that sends more without saying so fails when it passes the cap (counted after
  decompression, which is what costs memory).

The request and answer texts kept on events (`Call`) never hold the connection's password,
in plain, `user:password` or Basic form, nor its bearer token (the current one or one
sent before it): a server may echo the Authorization header in an error page, and those
texts are stored and exported. A whole answer is redacted before it is cut to the length
kept, so that no part of a secret survives at the cut.

A bearer token is read from its source before each request (a token file rotated in
place is read again); a request answered 401 reads it again and is sent once more if
the token changed.

Exceeding either limit raises `LimitExceeded`, a ProviderUnavailable: the worker retries the
event with backoff, then leaves it in error with this message.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import zlib
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from calsync.errors import CalsyncError, ProviderRejected, ProviderThrottled, ProviderUnavailable
from calsync.providers import deadlines, webdav
from calsync.providers.answers import retry_after
from calsync.providers.base import Exchange
from calsync.providers.hrefs import Origin, shown

_EXCHANGE_LIMIT = 16 * 1024
_XML = "application/xml; charset=utf-8"
_THROTTLING = frozenset({429, 503})
#: Bearer tokens remembered for redaction: a day of hourly rotations, and then some.
_KEPT_TOKENS = 32


class LimitExceeded(ProviderUnavailable):
    """A server's answer broke one of the connection's limits (time, size, rounds)."""


@dataclass(frozen=True)
class Limits:
    """What one connection allows a server; see `ConnectionSettings` for the settings."""

    deadline_seconds: float = 120.0
    max_answer_bytes: int = 64 * 1024 * 1024
    max_sync_rounds: int = 100


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
class Call:
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


class Wire:
    """The HTTP client of one connection: its origin, credentials, limits and counters.

    `send` raises ProviderThrottled for 429, 503 and a 5xx with Retry-After, unless
    `reads_throttling` is false: an adapter whose service explains its refusals in the
    answer's body (Google's reasons) reads them itself.
    """

    reads_throttling: bool = True

    def __init__(
        self,
        base_url: str,
        credentials: tuple[str, str] | None,
        timeout: float,
        limits: Limits,
        transport: httpx.BaseTransport | None = None,
        bearer_token: str | TokenSource | None = None,
    ) -> None:
        """`credentials` (user, password) for basic authentication, or `bearer_token`:
        the token itself or where it is read again before each request."""
        self.origin = Origin.of(base_url)
        self.limits = limits
        self._bearer: _Bearer | None = None
        auth: httpx.Auth | None = None
        if bearer_token is not None:
            auth = self._bearer = _Bearer(bearer_token)
        elif credentials is not None:
            auth = httpx.BasicAuth(*credentials)
        read_timeout = min(timeout, limits.deadline_seconds)
        self._client = httpx.Client(
            auth=auth, timeout=read_timeout, transport=transport or deadlines.transport()
        )
        self._secrets = _secret_forms(credentials)
        self.counters = TrafficCounters()

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        call: Call,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request and its whole answer; transport errors, throttling and broken limits
        become calsync errors here. A URL outside the origin is refused unsent. A bearer
        token refused (401) is read again, and the request sent once more if it changed."""
        response = self._send_once(call, method, url, body, headers)
        if (
            response.status_code == 401
            and self._bearer is not None
            and self._bearer.renewed(response.request)
        ):
            response = self._send_once(call, method, url, body, headers)
        status = response.status_code
        delay = response.headers.get("retry-after")
        if self.reads_throttling and (status in _THROTTLING or (status >= 500 and delay)):
            raise ProviderThrottled(f"{method} {url} answered {status}", retry_after(delay))
        return response

    def _send_once(
        self,
        call: Call,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        self.origin.check(url)
        headers = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
        if body is not None:
            headers.setdefault("Content-Type", _XML)
        try:
            request = self._client.build_request(method, url, content=body, headers=headers)
        except httpx.InvalidURL as exc:
            raise ProviderRejected(f"refused to send a request to {shown(url)}: {exc}") from None
        call.requests.append(webdav.describe_request(request, self.redact))
        began = time.perf_counter()
        deadline = began + self.limits.deadline_seconds
        response: httpx.Response | None = None
        try:
            with deadlines.until(deadline):
                response = self._client.send(request, stream=True)
                try:
                    self._read(response, deadline, f"{method} {url}")
                finally:
                    response.close()
        except (httpx.HTTPError, ProviderUnavailable, zlib.error) as exc:
            error = self._failure(f"{method} {url}", exc, deadline)
            self._count(call, _traffic(request, response, time.perf_counter() - began))
            call.responses.append(self.redact(f"{type(error).__name__}: {error}"))
            if error is exc:
                raise
            raise error from exc
        self._count(call, _traffic(request, response, time.perf_counter() - began))
        call.responses.append(webdav.describe_response(response, self.redact))
        return response

    def redact(self, text: str) -> str:
        """`text` without the connection's password or bearer token (the current one and
        those sent before it) in any form a server might echo back (an error page showing
        the request's Authorization header, say)."""
        secrets = self._secrets + (self._bearer.forms() if self._bearer is not None else ())
        for secret in secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _read(self, response: httpx.Response, deadline: float, what: str) -> None:
        """Read the answer into `response.content`, within the deadline and the size cap."""
        cap = self.limits.max_answer_bytes
        announced = response.headers.get("content-length", "")
        if re.fullmatch(r"\d{1,20}", announced, re.ASCII) and int(announced) > cap:
            raise LimitExceeded(
                f"{what}: the answer announces {int(announced)} bytes, more than "
                f"max_answer_bytes = {cap}"
            )
        if response.is_stream_consumed:  # handed over whole (an in-process transport)
            if len(response.content) > cap:
                raise LimitExceeded(
                    f"{what}: the answer passed max_answer_bytes = {cap} and was dropped"
                )
            return
        decoder = _decoder(response.headers.get("content-encoding", ""), what)
        parts: list[bytes] = []
        size = 0

        def keep(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            if size > cap:
                raise LimitExceeded(
                    f"{what}: the answer passed max_answer_bytes = {cap} and was dropped"
                )
            parts.append(chunk)

        # Raw bytes, decompressed here a bounded piece at a time: httpx would expand each
        # chunk whole (a few hundred compressed bytes can hold gigabytes) before the cap
        # could be checked.
        for raw in response.iter_raw():
            if time.perf_counter() > deadline:
                raise self._late(what)
            if decoder is None:
                keep(raw)
                continue
            pending = raw
            while pending:
                keep(decoder.decompress(pending, cap - size + 1))
                pending = decoder.unconsumed_tail
        if decoder is not None:
            keep(decoder.flush())
            if not decoder.eof:
                raise ProviderUnavailable(f"{what}: the compressed answer ended before its end")
        # What `Response.read` does; done by hand so that the limits apply while reading.
        response._content = b"".join(parts)

    def _failure(self, what: str, exc: Exception, deadline: float) -> ProviderUnavailable:
        """The calsync error for a failed exchange; a timeout past the deadline is one."""
        if isinstance(exc, ProviderUnavailable):
            return exc
        if isinstance(exc, zlib.error):
            return ProviderUnavailable(f"{what}: the compressed answer cannot be read: {exc}")
        if isinstance(exc, httpx.TimeoutException) and time.perf_counter() >= deadline:
            return self._late(what)
        return ProviderUnavailable(f"{what} failed: {exc}")

    def _late(self, what: str) -> LimitExceeded:
        return LimitExceeded(
            f"{what}: no complete answer within deadline_seconds = {self.limits.deadline_seconds:g}"
        )

    def _count(self, call: Call, traffic: TrafficCounters) -> None:
        call.traffic += traffic
        self.counters += traffic


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped (RFC 9110 §8.4.1.2) or raw, told apart by
    the first bytes, as httpx does."""

    def __init__(self) -> None:
        self._inner: Any = None

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._inner is None:
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return bytes(self._inner.decompress(data, max_length))

    @property
    def unconsumed_tail(self) -> bytes:
        return bytes(self._inner.unconsumed_tail) if self._inner is not None else b""

    @property
    def eof(self) -> bool:
        return self._inner is None or bool(self._inner.eof)

    def flush(self) -> bytes:
        return bytes(self._inner.flush()) if self._inner is not None else b""


def _decoder(content_encoding: str, what: str) -> Any:
    """A bounded decompressor for the answer's Content-Encoding (None: not compressed);
    one layer of gzip or deflate, what calsync asks for, and nothing else."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if len(codings) == 1 and codings[0] == "deflate":
        return _Deflate()
    raise ProviderUnavailable(
        f"{what}: the answer is encoded as {shown(content_encoding)}, which calsync does not "
        "read (it asks for one layer of gzip or deflate at most)"
    )


def _secret_forms(credentials: tuple[str, str] | None) -> tuple[str, ...]:
    """The password, `user:password` and its Basic form (RFC 7617), longest first; a
    password of under 4 characters is not searched for (it would blank ordinary text)."""
    if credentials is None or len(credentials[1]) < 4:
        return ()
    user, password = credentials
    pair = f"{user}:{password}"
    basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return tuple(sorted({basic, pair, password}, key=len, reverse=True))


class TokenSource(Protocol):
    """Where a bearer token is read (`config.BearerTokenSource`): `current()` before each
    request, `fresh()` after the service refused the one sent."""

    def current(self) -> str: ...

    def fresh(self) -> str: ...


class _FixedToken:
    """A bearer token given as it is: it never changes."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:  # the token is a secret: never in a traceback
        return "_FixedToken(<hidden>)"

    def current(self) -> str:
        return self._token

    def fresh(self) -> str:
        return self._token


class _Bearer(httpx.Auth):
    """`Authorization: Bearer <token>` on every request (RFC 6750 §2.1), the token read
    from its source each time. The tokens sent are remembered (the latest
    `_KEPT_TOKENS`), so that an echo of an earlier one is still redacted."""

    def __init__(self, token: str | TokenSource) -> None:
        self._source = _FixedToken(token) if isinstance(token, str) else token
        self._lock = threading.Lock()
        self._sent: list[str] = []

    def __repr__(self) -> str:  # the token is a secret: never in a traceback
        return "_Bearer(<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self._seen(self._source.current())}"
        yield request

    def renewed(self, refused: httpx.Request) -> bool:
        """Read the token again after `refused` was answered 401: True if it changed (the
        request is worth sending again), False if not or if it cannot be read now."""
        try:
            token = self._seen(self._source.fresh())
        except CalsyncError:
            return False
        return str(refused.headers.get("Authorization", "")) != f"Bearer {token}"

    def forms(self) -> tuple[str, ...]:
        """Every token sent, with and without its scheme, longest first."""
        with self._lock:
            tokens = list(self._sent)
        forms = {
            form
            for token in tokens
            if len(token) >= 4  # a shorter one would blank ordinary text
            for form in (f"Bearer {token}", token)
        }
        return tuple(sorted(forms, key=len, reverse=True))

    def _seen(self, token: str) -> str:
        with self._lock:
            if token not in self._sent:
                self._sent = [*self._sent, token][-_KEPT_TOKENS:]
        return token


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
