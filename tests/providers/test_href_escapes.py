"""An href that climbs out of its calendar, however its dots are spelled (`..`, `%2e%2e`),
is refused: never stored as a provider id, never written to."""

from __future__ import annotations

import httpx
import pytest

from calsync.providers.caldav import CalDAVProvider
from calsync.providers.hrefs import ForeignHref, Origin
from tests.providers import hostile_server as hostile

CALENDAR = "/rooms/a/"


@pytest.mark.parametrize(
    "href",
    [f"{CALENDAR}%2e%2e/b/x.ics", f"{CALENDAR}%2E%2E/%2e%2e/x.ics", f"{CALENDAR}.%2e/b/x.ics"],
)
def test_an_href_escaping_the_calendar_by_percent_encoded_dots_is_refused(href):
    origin = Origin.of("http://dav.test/")

    with pytest.raises(ForeignHref):
        origin.member_id(href, f"http://dav.test{CALENDAR}")


def test_a_room_answer_to_a_listed_member_is_written_inside_the_calendar_only():
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "PUT":
            return httpx.Response(204, headers={"ETag": '"2"'})
        if b"sync-collection" in request.content:
            body = hostile.multistatus(hostile.member(f"{CALENDAR}%2e%2e/b/x.ics"), token="t1")
            return httpx.Response(207, content=body)
        hrefs = hostile._hrefs_asked(request.content)
        members = [hostile.member(h, data=hostile.meeting(h)) for h in hrefs]
        return httpx.Response(207, content=hostile.multistatus(*members))

    with CalDAVProvider("http://dav.test", transport=httpx.MockTransport(answer)) as provider:
        batch = provider.fetch_changes(CALENDAR, None)
        for change in batch.changes:
            if not change.refused:
                provider.update(CALENDAR, change.provider_id, b"BEGIN:VCALENDAR", '"1"')

    written = [r.url.path for r in sent if r.method == "PUT"]
    assert all(path.startswith(CALENDAR) for path in written), written
