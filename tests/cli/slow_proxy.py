"""A loopback HTTP proxy in front of a CalDAV server that waits `delay` seconds before
forwarding each request: a slow server, for the tests of stalled and killed runs."""

from __future__ import annotations

import threading
import time

import httpx

from tests.providers.gateway import forwarding_server


class SlowProxy:
    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream, self.delay = upstream.rstrip("/"), delay
        self.requests = 0
        self.server = forwarding_server(self.answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        self.requests += 1
        time.sleep(self.delay)
        return httpx.request(method, self.upstream + path, headers=headers, content=body)

    def __enter__(self) -> SlowProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
