"""A deadline on every socket read and write of a request: `transport()` and `until(at)`.

httpx bounds each read by a timeout but not the whole exchange: a server that sends its
status line and headers one byte every half second is read forever, and httpcore reads
headers with no way to stop in between. So the transport's network streams cap the
timeout of each read and write by the time left until the deadline of the request in hand,
which `until(at)` sets for the calling thread (the multiget read-ahead runs in its own
thread with its own deadline). Past the deadline a read raises httpcore's ReadTimeout,
which httpx turns into `httpx.ReadTimeout`.

The streams are wrapped by replacing the network backend of httpx's connection pool,
which httpx does not expose; where a future httpx lays it out otherwise, `transport()`
returns a plain transport and only the body's reads keep the deadline (`wire.Wire._read`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_local = threading.local()


@contextmanager
def until(at: float) -> Iterator[None]:
    """Socket reads and writes of this thread end by `at` (`time.perf_counter()` time)."""
    before = getattr(_local, "at", None)
    _local.at = at
    try:
        yield
    finally:
        _local.at = before


def transport() -> httpx.HTTPTransport:
    """httpx's transport, its sockets bound by `until`'s deadline."""
    made = httpx.HTTPTransport()
    pool = getattr(made, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return made


def _left(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    at: float | None = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.perf_counter()
    if left <= 0:
        raise late("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._stream.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
