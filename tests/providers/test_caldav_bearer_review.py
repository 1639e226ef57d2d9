"""REVIEW FINDINGS (bearer token, branch seam): each test reproduces a weakness found in
review and FAILS on main as merged (b954d2d). They say what should hold; fix the code,
not the test. Run: PYTHONPATH=src pytest -q tests/providers/test_caldav_bearer_review.py"""

from __future__ import annotations

import pytest

from calsync.config import CalDAVConnection
from calsync.errors import CalsyncError
from calsync.providers.answers import retry_after
from calsync.providers.caldav import CalDAVProvider
from calsync.providers.wire import Call, Limits
from tests.providers.hostile_server import Answer, HostileServer, Seen

TOKEN = "planted-bearer-5be1c0ffee"


def _echo_padded(seen: Seen, server: HostileServer) -> Answer:
    """An error page echoing the Authorization header so that it straddles the point
    where a recorded answer's body is cut (4096 characters): all but its last character
    come before the cut."""
    sent = seen.headers.get("Authorization", "")
    page = "x" * (4096 - len(sent) + 1) + sent + " (your request)"
    return Answer(401, [page.encode()], {"Content-Type": "text/plain"})


def test_a_token_cut_by_the_recorded_answers_limit_is_not_recorded():
    """The body is cut before it is redacted, so a token across the cut is kept but for
    its last character."""
    with (
        HostileServer(_echo_padded) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        call = Call()
        provider._wire.send(call, "GET", server.url + "/rooms/a/")
    recorded = call.exchange().response
    assert TOKEN[:-1] not in recorded, "all but the token's last character was recorded"


def _echo_in_href(seen: Seen, server: HostileServer) -> Answer:
    """A sync answer whose members' hrefs hold the Authorization header (a debugging
    proxy, a hostile server): one without a status, one at another origin."""
    sent = seen.headers.get("Authorization", "").replace(" ", "_")
    body = (
        '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">'
        f"<d:response><d:href>http://elsewhere.example/{sent}.ics</d:href>"
        '<d:propstat><d:prop><d:getetag>"1"</d:getetag></d:prop>'
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        "<d:sync-token>t1</d:sync-token></d:multistatus>"
    )
    if len(server.seen) > 1:
        body = (
            '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">'
            f"<d:response><d:href>/rooms/a/{sent}.ics</d:href></d:response></d:multistatus>"
        )
    return Answer(207, [body.encode()], {"Content-Type": "application/xml"})


def test_a_token_echoed_in_a_refused_href_stays_out_of_the_calendar_item():
    """Only the recorded exchange texts are redacted; an href at another origin is kept,
    as it came, as a refused change: stored as the calendar item's error."""
    with (
        HostileServer(_echo_in_href) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        batch = provider.fetch_changes("/rooms/a/", None)
    refused = " ".join(f"{c.provider_id} {c.refused}" for c in batch.changes)
    assert TOKEN not in refused, "the token is in a refused change (stored, exported)"


def test_a_token_echoed_in_an_href_stays_out_of_the_error():
    """An href without a status is quoted in the error: the event's and the sync's."""
    with (
        HostileServer(_echo_in_href) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        provider.fetch_changes("/rooms/a/", None)
        with pytest.raises(CalsyncError) as failed:
            provider.fetch_changes("/rooms/a/", None)
    assert TOKEN not in str(failed.value), "the token is in the error (event, sync record)"


def test_a_rotated_token_file_is_read_again(tmp_path):
    """OAuth access tokens expire within the hour and are rotated in place; the token is
    read once, when the connection's provider is made (once per worker)."""
    token_file = tmp_path / "dav-token"
    token_file.write_text("first-token-0001\n")
    connection = CalDAVConnection(kind="caldav", url="http://x", token_file=str(token_file))
    with HostileServer(lambda seen, server: Answer(401, [b"refused"])) as server:
        connection = connection.model_copy(update={"url": server.url})
        with CalDAVProvider.from_settings(connection, Limits()) as provider:
            with pytest.raises(CalsyncError):
                provider.check("/rooms/a/")
            token_file.write_text("second-token-0002\n")  # rotated
            with pytest.raises(CalsyncError):
                provider.check("/rooms/a/")
    sent = [seen.headers.get("Authorization") for seen in server.seen]
    assert sent[-1] == "Bearer second-token-0002", sent


def test_a_token_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Notepad and PowerShell's Out-File write UTF-8 with a BOM; the token is refused as
    'not a bearer token' without saying why."""
    token_file = tmp_path / "dav-token"
    token_file.write_bytes(b"\xef\xbb\xbfplanted-bearer-5be1c0ffee\r\n")
    connection = CalDAVConnection(kind="caldav", url="http://x", token_file=str(token_file))
    assert connection.bearer_token() == TOKEN


@pytest.mark.parametrize("value", ["1000000000", "99999999999"])
def test_a_retry_after_beyond_nine_digits_is_waited_for_a_day(value):
    """Ten digits or more are not read at all (None: the short backoff), where the
    module promises to wait at most a day."""
    assert retry_after(value) == 86400.0
