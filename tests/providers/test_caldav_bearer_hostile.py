"""The CalDAV adapter's bearer token against a hostile or careless server: no part of it
is stored, wherever the server echoes it (across the cut of a recorded answer, in a
listing's hrefs, in an error); a token rotated in its file is the one sent next, and a
refused token is read again and the request sent once more."""

from __future__ import annotations

import pytest

from calsync.config import CalDAVConnection
from calsync.errors import ProviderRejected, ProviderUnavailable
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


def test_a_token_across_the_cut_of_a_recorded_answer_is_not_recorded():
    with (
        HostileServer(_echo_padded) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        call = Call()
        provider._wire.send(call, "GET", server.url + "/rooms/a/")
    recorded = call.exchange().response
    assert TOKEN[:-1] not in recorded, "all but the token's last character was recorded"
    assert "[redacted]" in recorded


def _echo_in_href(seen: Seen, server: HostileServer) -> Answer:
    """A sync answer whose members' hrefs hold the Authorization header (a debugging
    proxy, a hostile server): first one at another origin, then one without a status."""
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


def test_a_token_echoed_in_a_foreign_href_stays_out_of_the_refused_change():
    """A refused change is stored as the calendar item's error, and exported."""
    with (
        HostileServer(_echo_in_href) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        batch = provider.fetch_changes("/rooms/a/", None)
    [refused] = batch.changes
    assert refused.refused, "the foreign href is refused"
    assert TOKEN not in f"{refused.provider_id} {refused.refused}"


def test_a_token_echoed_in_an_href_stays_out_of_the_error_quoting_it():
    """An href without a status is quoted in the error: stored on the event and sync."""
    with (
        HostileServer(_echo_in_href) as server,
        CalDAVProvider(server.url, bearer_token=TOKEN, timeout=5.0) as provider,
    ):
        provider.fetch_changes("/rooms/a/", None)
        with pytest.raises(ProviderUnavailable) as failed:
            provider.fetch_changes("/rooms/a/", None)
    assert "has no status" in str(failed.value)
    assert TOKEN not in str(failed.value)


def _token_file_connection(server: HostileServer, token_file) -> CalDAVConnection:
    return CalDAVConnection(kind="caldav", url=server.url, token_file=str(token_file))


def test_a_token_rotated_in_its_file_is_the_one_sent_next(tmp_path):
    """OAuth access tokens expire within the hour and are rotated in place, while a
    worker keeps its connection's provider."""
    token_file = tmp_path / "dav-token"
    token_file.write_text("first-token-0001\n")
    with HostileServer(lambda seen, server: Answer(207, [b"<not-a-calendar/>"])) as server:
        connection = _token_file_connection(server, token_file)
        with CalDAVProvider.from_settings(connection, Limits()) as provider:
            with pytest.raises(ProviderRejected, match="not a calendar"):
                provider.check("/rooms/a/")
            token_file.write_text("second-token-0002\n")  # rotated
            with pytest.raises(ProviderRejected, match="not a calendar"):
                provider.check("/rooms/a/")
    sent = [seen.headers.get("Authorization") for seen in server.seen]
    assert sent == ["Bearer first-token-0001", "Bearer second-token-0002"]


def test_a_refused_token_is_read_again_and_the_request_sent_once_more(tmp_path):
    """A token rotated between two reads of the file's times (same size, same
    modification time on a coarse clock) is still found: a 401 reads the file again."""
    token_file = tmp_path / "dav-token"
    token_file.write_text("first-token-0001\n")

    def refusing_the_first(seen: Seen, server: HostileServer) -> Answer:
        if seen.headers.get("Authorization") == "Bearer first-token-0001":
            token_file.write_text("rotated-token-01\n")  # as long as the first
            return Answer(401, [b"expired: Bearer first-token-0001"])
        return Answer(401, [b"refused"])

    with HostileServer(refusing_the_first) as server:
        connection = _token_file_connection(server, token_file)
        with CalDAVProvider.from_settings(connection, Limits(), name="dav") as provider:
            call = Call()
            provider._wire.send(call, "GET", server.url + "/rooms/a/")
            with pytest.raises(ProviderRejected) as refused:
                provider.check("/rooms/a/")
    sent = [seen.headers.get("Authorization") for seen in server.seen]
    once_more = ["Bearer first-token-0001", "Bearer rotated-token-01"]
    assert sent == [*once_more, "Bearer rotated-token-01"], "sent once more, not twice"
    recorded = call.exchange().response
    assert "first-token-0001" not in recorded, "an earlier token is still redacted"
    assert "connection 'dav': credentials refused" in str(refused.value)


@pytest.mark.parametrize("value", ["86401", "1000000000", "99999999999", "9" * 5000])
def test_a_retry_after_of_more_than_a_day_is_waited_for_a_day(value):
    """However many digits: ten or more were once ignored (the short backoff instead)."""
    assert retry_after(value) == 86400.0


def test_a_retry_after_with_leading_zeros_is_read():
    assert retry_after("000120") == 120.0
