"""The CalDAV adapter's bearer token: sent on every request, and kept out of what calsync
records, also when a server echoes it back in an error page."""

from __future__ import annotations

import pytest

from calsync.errors import ProviderRejected
from calsync.providers.caldav import CalDAVProvider
from tests.providers.hostile_server import Answer, HostileServer, Seen

TOKEN = "planted-bearer-5be1c0ffee"


def echoing_401(seen: Seen, server: HostileServer) -> Answer:
    page = f"<p>refused: Authorization: {seen.headers.get('Authorization', '')}</p>"
    return Answer(401, [page.encode()], {"Content-Type": "text/html"})


def test_the_token_goes_with_every_request_and_never_into_an_error():
    with (
        HostileServer(echoing_401) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        with pytest.raises(ProviderRejected) as refused:
            provider.fetch_changes("/rooms/a/", None)
        with pytest.raises(ProviderRejected) as write_refused:
            provider.cancel("/rooms/a/", "/rooms/a/m1.ics", None)
    assert [seen.headers["Authorization"] for seen in server.seen] == [f"Bearer {TOKEN}"] * 2
    assert (refused.value.status, write_refused.value.status) == (401, 401)
    assert TOKEN not in str(refused.value) + str(write_refused.value)
    assert provider._wire.redact(f"echo: Bearer {TOKEN}") == "echo: [redacted]"
