"""The dashboard page (`calsync.web.dashboard`) as its readers see it over time: today's
counts move at the next visit; the days before today are the ones kept by the process
(the page says from when), read again after a visit once five minutes have passed,
before it once the day turns, and at once after a reprocess from the admin pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from calsync.store.bulk import insert_rows
from calsync.store.records import EVENTS
from tests.api.conftest import fail_event
from tests.store.test_health import event_row

REFUSED = re.compile(r"refused by the provider <b>(\d+)</b>")
AS_OF = re.compile(r"The days before today as of (\d\d:\d\d) UTC")


def refused(html: str) -> int:
    """Events in error refused by the provider over 30 days, as the pie's legend says."""
    found = REFUSED.search(html)
    assert found, "the page has no pie of the errors by cause"
    return int(found[1])


def errors_last_day(html: str) -> int:
    found = re.search(r"<b>(\d+)</b> events in error, last 24 hours", html)
    assert found
    return int(found[1])


def as_of(html: str) -> str | None:
    found = AS_OF.search(html)
    return found[1] if found else None


def fail(api, *ended: datetime) -> None:
    """Events that ended in error, refused by the provider, at `ended`."""
    with api.services.uow() as uow:
        insert_rows(
            uow.session, EVENTS, [event_row(at, "error", "ProviderRejected: 403") for at in ended]
        )
        uow.commit()


def test_the_days_before_today_are_kept_and_read_again_after_five_minutes(synchronized, visit):
    clock = synchronized.services.clock  # 2026-12-01 08:00 UTC
    viewer = visit("viewer")
    first = viewer.get("/admin/").text
    assert (refused(first), as_of(first)) == (0, None)
    fail(synchronized, clock() - timedelta(hours=20), clock())
    clock.advance(minutes=2)
    kept = viewer.get("/admin/").text
    assert errors_last_day(kept) == 2  # a score: read at each visit
    assert refused(kept) == 1  # today's, while yesterday's is the one kept
    assert as_of(kept) == "08:00"
    clock.advance(minutes=3)  # 08:05: served as kept, then read again after the answer
    served = viewer.get("/admin/").text
    assert (refused(served), as_of(served)) == (1, "08:00")
    clock.advance(minutes=1)
    fresh = viewer.get("/admin/").text
    assert (refused(fresh), as_of(fresh)) == (2, "08:05")


def test_the_day_turning_drops_the_days_kept(synchronized, visit):
    clock = synchronized.services.clock
    clock.now = clock.now.replace(hour=23, minute=58)
    viewer = visit("viewer")
    assert refused(viewer.get("/admin/").text) == 0
    fail(synchronized, clock() - timedelta(days=1))
    clock.advance(minutes=3)  # 00:01, two days after the error
    shown = viewer.get("/admin/").text
    assert (refused(shown), as_of(shown)) == (1, None)


def test_reprocessing_from_the_admin_pages_drops_the_days_kept(synchronized, visit):
    event_id = fail_event(synchronized, "respond", "ProviderRejected: PUT answered 403")
    with synchronized.services.uow() as uow:
        failed = uow.events.get(event_id)
        failed.updated_at = synchronized.services.clock() - timedelta(days=2)
        uow.commit()
    admin = visit("admin")
    assert refused(admin.get("/admin/").text) == 1
    page = f"/admin/events/{event_id}"
    assert admin.post_form(page, f"{page}/reprocess").status_code == 303
    shown = admin.get("/admin/").text
    assert (refused(shown), as_of(shown)) == (0, None)
