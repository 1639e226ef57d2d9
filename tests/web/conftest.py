"""The admin pages on SQLite and PostgreSQL: the API's fixtures (Room A and Room B on
CalDAV connections with a planted password and bearer token, Desk 1 unbound), and a
browser-like client per role that logs in through the login form."""

# ruff: noqa: F811 - the fixtures are tests/api's, imported by name
from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Api, api, synchronized  # noqa: F401 - fixtures used here

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found[1]


class Visitor:
    """A browser session of the admin pages, logged in with a token of one role."""

    def __init__(self, api: Api, role: str | None, token: str | None = None) -> None:
        self.api = api
        self.client = TestClient(api.app, follow_redirects=False)
        self.token = token or (api.token(role) if role else None)

    def log_in(self) -> Any:
        form = self.client.get("/admin/login")
        return self.client.post(
            "/admin/login", data={"token": self.token, "csrf": csrf_of(form.text)}
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post_form(self, page: str, action: str, data: dict[str, Any] | None = None) -> Any:
        """Submit a form of `page` to `action`, with the page's CSRF token."""
        token = csrf_of(self.get(page).text)
        return self.client.post(action, data={"csrf": token, **(data or {})})


@pytest.fixture
def visit(api):
    def logged_in(role: str, token: str | None = None) -> Visitor:
        visitor = Visitor(api, role, token)
        assert visitor.log_in().status_code == 303
        return visitor

    return logged_in
