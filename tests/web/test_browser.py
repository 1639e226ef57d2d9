"""The admin pages in a real headless Chromium (Playwright driving the system's Chromium,
never a downloaded one), against `create_app` served by uvicorn on a loopback port, after a
synchronization with Radicale: log in with a token, read the dashboard, open an event's
JSON, reprocess a failed event and see it succeed, approve a pending booking as its
performer. Each page is saved as a screenshot under artifacts/admin-pages/ (kept out of
git), named after the database and the page.

The browser is /usr/bin/chromium (Debian's `chromium`), or the one CALSYNC_CHROMIUM names.
Without one these tests skip, unless CALSYNC_REQUIRE_BROWSER=1 (as in CI), which makes
them fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync.domain.access import Role
from calsync.store.records import RecordFilter
from tests.api.conftest import Server, free_port
from tests.sync.calendars import book, drain, reservations, room_settings, sync

CHROMIUM = os.environ.get("CALSYNC_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CALSYNC_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "admin-pages"
BOSS = "boss@example.com"
RULES = {"approval_rules": [{"name": "board", "items": ["Room A"], "performer": {"person": BOSS}}]}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CALSYNC_CHROMIUM)"
        if REQUIRE_BROWSER:
            pytest.fail(message + " (CALSYNC_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def site(make_services, room_calendar, radicale, database_url):
    """Room A, whose bookings wait for boss@example.com: one meeting booked in its
    calendar, synchronized and answered (tentative), served on a loopback port."""
    from calsync.providers.caldav import CalDAVProvider

    services = make_services(room_settings(room_calendar), None, RULES)
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    try:
        book(organizer, room_calendar, "m1", day=3)
        sync(services)
        drain(services)
    finally:
        organizer.close()

    with Server(services, free_port()) as server:
        server.services = services
        server.database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
        yield server


def token(services, role: Role, performer: str = "") -> str:
    with services.uow() as uow:
        made = uow.tokens.issue(role, services.clock(), role.value, performer)
        uow.commit()
    return made


class Pages:
    """A browser tab on the site, saving a screenshot of each page it is asked to."""

    def __init__(self, browser, site) -> None:
        self.site = site
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.tab = self.context.new_page()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.tab.goto(self.site.url + path)

    def snap(self, name: str) -> None:
        self.tab.screenshot(path=ARTIFACTS / f"{self.site.database}-{name}.png", full_page=True)

    def log_in(self, secret: str) -> None:
        self.open("/admin/")
        assert "/admin/login" in self.tab.url
        self.snap("login")
        self.tab.fill("input[name=token]", secret)
        self.tab.click("button:has-text('Log in')")

    def log_out(self) -> None:
        self.tab.click("button:has-text('Log out')")
        assert "/admin/login" in self.tab.url


def fail_respond(services) -> int:
    with services.uow() as uow:
        [event] = uow.events.find(RecordFilter(action="respond", limit=1))
        event.state, event.error, event.attempts = "error", "ProviderRejected: 503", 3
        uow.commit()
        return event.id


def test_an_admin_watches_inspects_and_reprocesses(browser, site):
    pages = Pages(browser, site)
    pages.log_in(token(site.services, Role.admin))
    tab = pages.tab
    assert tab.locator("h1").inner_text() == "Synchronization health"
    assert tab.locator(".score", has_text="events today").locator("b").inner_text() == "2"
    assert tab.locator("svg").count() == 4
    pages.snap("dashboard-login")

    pages.open("/admin/events?action=read")
    pages.snap("events")
    tab.locator("td a").first.click()
    assert '"item": "Room A"' in tab.locator("#payload").inner_text()
    pages.snap("event-json")

    failed = fail_respond(site.services)
    pages.open(f"/admin/events/{failed}")
    assert "error" in tab.locator("h1").inner_text()
    pages.snap("event-in-error")
    tab.click("button:has-text('Reprocess')")
    assert tab.locator("#reprocessed").inner_text() == "Reprocessed: processed"
    assert "processed" in tab.locator("h1").inner_text()
    pages.snap("event-reprocessed")

    for name in ("synchronizations", "calendar-items", "items", "connections", "approvals"):
        pages.open(f"/admin/{name}")
        assert tab.locator("h1").count() == 1
        pages.snap(name)
    pages.open("/admin/calendar-items")
    tab.locator("td a").first.click()
    assert "BEGIN:VCALENDAR" in tab.locator("#provider-payload").inner_text()
    pages.snap("calendar-item")
    pages.log_out()
    pages.context.close()


def test_an_approver_approves_a_pending_booking_with_a_reason(browser, site):
    [waiting] = reservations(site.services)
    assert waiting.status == "pending_approval"
    pages = Pages(browser, site)
    pages.log_in(token(site.services, Role.approver, "someone@example.com"))
    tab = pages.tab
    assert tab.url.endswith("/admin/approvals")
    assert "No pending approvals for you." in tab.inner_text("main")
    pages.log_out()

    pages.log_in(token(site.services, Role.approver, BOSS))
    assert tab.url.endswith("/admin/approvals")
    approval = tab.locator("article.approval")
    assert approval.count() == 1
    assert "Meeting m1" in approval.inner_text()
    pages.snap("approvals-pending")
    approval.locator("input[name=reason]").fill("fine by me")
    approval.locator("button:has-text('Approve')").click()
    assert tab.locator("#decided").inner_text().startswith("approved #")
    pages.snap("approvals-decided")

    drain(site.services)
    [decided] = reservations(site.services)
    assert decided.status == "confirmed"
    tab.select_option("select[name=state]", "approved")
    tab.click("button:has-text('Show')")
    assert "by boss@example.com" in tab.inner_text("main")
    assert "fine by me" in tab.inner_text("main")
    pages.open("/admin/")
    assert "403" in tab.locator("h1").inner_text()
    pages.context.close()
