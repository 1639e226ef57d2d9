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
