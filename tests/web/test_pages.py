"""The admin pages through their forms, as a browser sends them (without running
scripts): logging in and out, the session's end, CSRF, the roles, what each page shows,
and that no page shows a credential."""

from __future__ import annotations

import re

import pytest

from calsync.domain.access import Role
from tests.api.conftest import BEARER, PASSWORD, fail_event
from tests.web.conftest import Visitor

PAGES = (
    "/admin/",
    "/admin/synchronizations",
    "/admin/events",
    "/admin/calendar-items",
    "/admin/items",
    "/admin/connections",
)


def test_a_page_without_a_session_sends_to_the_login_and_back(api):
    visitor = Visitor(api, "viewer")
    answer = visitor.get("/admin/events?state=error")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/events%3Fstate%3Derror"
    assert visitor.client.get("/", follow_redirects=True).url.path == "/admin/login"


def test_logging_in_with_a_token_gives_an_httponly_strict_session_cookie(api):
    visitor = Visitor(api, "admin")
    form = visitor.get("/admin/login?next=/admin/events")
    from tests.web.conftest import csrf_of

    answer = visitor.client.post(
        "/admin/login",
        data={"token": visitor.token, "csrf": csrf_of(form.text), "next": "/admin/events"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/events"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "calsync_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Path=/admin" in cookie
    assert visitor.token not in cookie
    assert visitor.get("/admin/events").status_code == 200


def test_a_wrong_token_is_refused_at_the_login(api):
    visitor = Visitor(api, None, token="calsync_00000000_" + "x" * 43)
    answer = visitor.log_in()
    assert answer.status_code == 401
    assert "unknown or revoked" in answer.text
    assert visitor.get("/admin/").status_code == 303


def test_a_login_without_its_csrf_token_is_refused(api):
    visitor = Visitor(api, "admin")
    visitor.get("/admin/login")
    answer = visitor.client.post("/admin/login", data={"token": visitor.token})
    assert answer.status_code == 403
    assert visitor.get("/admin/").status_code == 303


def test_logging_out_ends_the_session(visit):
    visitor = visit("viewer")
    answer = visitor.post_form("/admin/", "/admin/logout")
    assert answer.status_code == 303
    assert visitor.get("/admin/").status_code == 303


def test_a_session_ends_after_its_hours_and_when_its_token_is_revoked(api, visit):
    visitor = visit("viewer")
    api.services.clock.advance(hours=7, minutes=59)
    assert visitor.get("/admin/").status_code == 200
    api.services.clock.advance(minutes=2)
    assert visitor.get("/admin/").status_code == 303
    again = visit("admin")
    with api.services.uow() as uow:
        uow.tokens.revoke(again.token.split("_")[1], api.services.clock())
        uow.commit()
    assert again.get("/admin/").status_code == 303


def test_a_forged_session_cookie_is_not_a_session(api, visit):
    visitor = visit("viewer")
    cookie = visitor.client.cookies.get("calsync_session")
    body, signature = cookie.split(".")
    visitor.client.cookies.clear()
    visitor.client.cookies.set("calsync_session", body + "." + signature[:-2] + "AA", path="/admin")
    assert visitor.get("/admin/").status_code == 303


@pytest.mark.parametrize("page", PAGES)
def test_a_viewer_and_an_admin_see_every_page(synchronized, visit, page):
    for role in ("viewer", "admin"):
        assert visit(role).get(page).status_code == 200, role


@pytest.mark.parametrize("role", ["approver", "integration"])
def test_a_role_that_may_not_read_gets_403(api, visit, role):
    visitor = visit(role)
    for page in PAGES:
        answer = visitor.get(page)
        assert answer.status_code == 403, page
        assert f"a {role} may not" in answer.text


def test_the_dashboard_counts_the_synchronization(synchronized, visit):
    html = visit("viewer").get("/admin/").text
    scores = {
        label.strip(): int(count) for count, label in re.findall(r"<b>(\d+)</b>([^<]+)</a>", html)
    }
    # One read, two calendar items, two answers (respond) sent.
    assert scores["events today"] == 3
    assert scores["calendar items today"] == 2
    assert scores["events not yet processed"] == 0
    assert scores["events in error, last 24 hours"] == 0
    assert html.count("<svg") == 4
    assert "new reservation <b>2</b>" in html
    assert "Room A" in html
    assert "succeeded" in html


def test_an_event_shows_its_json_pretty_printed(synchronized, visit):
    with synchronized.services.read() as uow:
        from calsync.store.records import RecordFilter

        [read] = uow.events.find(RecordFilter(action="read", limit=1))
    html = visit("viewer").get(f"/admin/events/{read.id}").text
    assert '<pre class="json" id="payload">{\n  &#34;confirm_sweep&#34;: false,' in html


def test_an_admin_reprocesses_a_failed_event_and_sees_it_succeed(synchronized, visit):
    event_id = fail_event(synchronized, "respond", "ProviderRejected: PUT answered 403")
    admin = visit("admin")
    page = f"/admin/events/{event_id}"
    assert "Reprocess</button>" in admin.get(page).text
    answer = admin.post_form(page, f"{page}/reprocess")
    assert answer.status_code == 303
    shown = admin.get(answer.headers["location"]).text
    assert "Reprocessed: processed" in shown
    assert "state-processed" in shown


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(synchronized, visit):
    event_id = fail_event(synchronized, "respond", "ProviderRejected: PUT answered 403")
    admin = visit("admin")
    for data in ({}, {"csrf": "not-the-token"}):
        answer = admin.client.post(f"/admin/events/{event_id}/reprocess", data=data)
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    with synchronized.services.read() as uow:
        assert uow.events.get(event_id).state == "error"


def test_a_viewer_cannot_reprocess(synchronized, visit):
    event_id = fail_event(synchronized, "respond", "ProviderRejected: PUT answered 403")
    viewer = visit("viewer")
    page = f"/admin/events/{event_id}"
    assert "Reprocess</button>" not in viewer.get(page).text
    answer = viewer.post_form(page, f"{page}/reprocess")
    assert answer.status_code == 403
    with synchronized.services.read() as uow:
        assert uow.events.get(event_id).state == "error"


def test_filters_and_pages_walk_the_log_like_the_api(synchronized, visit):
    viewer = visit("viewer")
    reads = viewer.get("/admin/events?action=read&item=Room+A").text
    assert reads.count('href="/admin/events/') == 1
    assert "No events." in viewer.get("/admin/events?item=Room+B").text
    assert viewer.get("/admin/events?state=nonsense").status_code == 422
    assert viewer.get("/admin/events?cursor=nonsense").status_code == 422
    assert viewer.get("/admin/events/999999").status_code == 404
    items = viewer.get("/admin/calendar-items?kind=new_reservation").text
    assert items.count('href="/admin/calendar-items/') == 2


def test_no_page_shows_a_credential(synchronized, visit):
    fail_event(synchronized, "respond", "ProviderRejected: PUT answered 403")
    admin = visit("admin")
    shown = [admin.get(page).text for page in (*PAGES, "/admin/approvals", "/admin/login")]
    for listing in ("events", "calendar-items"):
        html = admin.get(f"/admin/{listing}").text
        for record in sorted(set(re.findall(rf'href="/admin/{listing}/(\d+)"', html))):
            shown.append(admin.get(f"/admin/{listing}/{record}").text)
    assert len(shown) > 10
    for text in shown:
        assert PASSWORD not in text
        assert BEARER not in text
        assert admin.token not in text
    assert "CALSYNC_API_TEST_PASSWORD" not in "".join(shown)


def test_an_integration_token_logs_in_and_sees_nothing(api, visit):
    visitor = visit("integration")
    assert visitor.get("/admin/approvals").status_code == 403
    assert Role.integration.value in visitor.get("/admin/").text
