"""Review of the admin pages: a session cookie that is not ASCII (any client may send
one) is no session, a redirect to the login, never a server error; a value the store
cannot hold is an error page, as every other failure of a page is, not JSON."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_session_cookie_that_is_not_ascii_sends_to_the_login(api):
    client = TestClient(api.app, follow_redirects=False, raise_server_exceptions=False)
    answer = client.get("/admin/events", headers={"Cookie": b"calsync_session=\xc3\xa9.abc"})
    assert answer.status_code == 303, (answer.status_code, answer.text)
    assert answer.headers["location"].startswith("/admin/login")


def test_a_value_the_store_cannot_hold_is_an_error_page(api, visit):
    visitor = visit("admin")
    client = TestClient(api.app, follow_redirects=False, raise_server_exceptions=False)
    client.cookies = visitor.client.cookies
    answer = client.get("/admin/events/99999999999")
    assert answer.status_code in (404, 422), answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_an_admin_without_a_performer_address_decides_on_the_pages_as_on_the_api(
    make_services, room_calendar, radicale
):
    """The API records an admin token without a performer address as `token:<key>`; the
    pages recorded nobody (decided_by "", "rejected by " as the reason the organizer
    reads)."""
    from tests.web.test_approvals import Visitor, waiting

    site = waiting.__wrapped__(make_services, room_calendar, radicale)
    admin = Visitor(site, "admin")
    admin.log_in()
    key = site.tokens["admin"].split("_")[1]
    answer = admin.post_form("/admin/approvals", "/admin/approvals/1/decide",
                             {"decision": "reject"})  # fmt: skip
    assert answer.status_code == 303
    with site.services.read() as uow:
        decided = uow.approvals.get(1).approval
    assert decided.decided_by == f"token:{key}"
    assert decided.reason == f"rejected by token:{key}"


def test_a_cursor_of_deeply_nested_json_is_an_error_page(api, visit):
    from tests.api.test_review9_inputs import nested

    client = TestClient(api.app, follow_redirects=False, raise_server_exceptions=False)
    client.cookies = visit("admin").client.cookies
    for page in ("/admin/events", "/admin/approvals", "/admin/items"):
        answer = client.get(page, params={"cursor": nested(2000)})
        assert answer.status_code == 422, (page, answer.status_code)


def test_a_viewer_sees_the_approvals_as_the_api_shows_them_without_deciding(
    make_services, room_calendar, radicale
):
    """README: "the pages grant what the API grants its role"; `GET /api/v1/approvals`
    admits a viewer (read), the approvals page answered it 403."""
    from tests.web.test_approvals import Visitor, waiting

    site = waiting.__wrapped__(make_services, room_calendar, radicale)
    viewer = Visitor(site, "viewer")
    viewer.log_in()
    assert len(site.client.get("/api/v1/approvals", headers=site.headers("viewer")).json()[
        "results"]) == 1  # fmt: skip
    page = viewer.get("/admin/approvals")
    assert page.status_code == 200
    assert 'id="approval-1"' in page.text
    assert 'href="/admin/approvals"' in page.text
    assert "/decide" not in page.text  # no form for a role that may not decide
    answer = viewer.post_form("/admin/approvals", "/admin/approvals/1/decide",
                              {"decision": "approve"})  # fmt: skip
    assert answer.status_code == 403
