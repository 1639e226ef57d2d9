"""Review: the session key `calsync serve --http-processes N` shares through its
environment (SHARED_KEY_ENV) is one drawn at start, at least as long as a configured one
must be; a weak value found in the environment signs no session."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from calsync.api.app import create_app
from calsync.web.session import COOKIE, SHARED_KEY_ENV, SessionSigner


def test_review10_a_short_shared_key_from_the_environment_signs_no_session(api, monkeypatch):
    """CALSYNC_SERVE_SESSION_KEY=x in the service's environment (a leftover export, a
    unit file): the pages signed sessions with the one-letter key (anyone could make a
    cookie for a token key they know), where `[web] session_secret_env` must hold 32
    characters."""
    monkeypatch.setenv(SHARED_KEY_ENV, "x")
    app = create_app(api.services)
    api.token("admin")
    with api.services.read() as uow:
        key = uow.session.execute(text("SELECT key FROM api_tokens")).scalar_one()
    now = api.services.clock()
    _, cookie = SessionSigner("x", app.state.session_signer.lifetime).start(key, now)
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(COOKIE, cookie)
    shown = client.get("/admin/")
    assert shown.status_code in (302, 303), shown.status_code
