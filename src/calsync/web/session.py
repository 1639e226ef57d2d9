"""Logging in to the admin pages: with an API token, held as a signed session cookie.

Why a token, and not users with passwords: calsync already has one answer to "who may do
what", the API tokens (`calsync tokens create --role admin|approver|viewer|integration`,
an approver's with `--performer ADDRESS`), listed and revoked on the command line. A
second set of accounts would be a second thing to provision, audit and revoke, and a
password store to keep. So an admin makes a token with the role wanted and pastes it once
into the login form; the pages grant exactly what the API grants that token.

The token is checked once, at login, and never kept by the browser: the session cookie
(`calsync_session`) holds the token's public key, when the session ends and the session's
CSRF secret, signed with HMAC-SHA256. Each request checks the signature and the end, then
that the token is still live: revoking a token (`calsync tokens revoke KEY`) ends its
sessions at the next click. The cookie is HttpOnly (no script reads it), SameSite=Strict
(no other site's page sends it), limited to /admin, and Secure when the request came over
https (behind a reverse proxy too, which says so in `X-Forwarded-Proto`).

The signing key is `[web] session_secret_env` (an environment variable naming at least 32
characters), the same for every `calsync serve` process behind one proxy; without one,
each `calsync serve` draws a random key at start (shared by its `--http-processes`, through
`SHARED_KEY_ENV`), and sessions end when it restarts. Logging out
deletes the cookie; a session ends by itself after `[web] session_hours` (8 by default).
The server keeps no list of sessions: a cookie copied before logging out stays good until
its end, unless its token is revoked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

COOKIE = "calsync_session"
#: Set by `calsync serve --http-processes N` for its processes when no key is configured:
#: the one key they all sign with (drawn at start), so a session holds in every process.
SHARED_KEY_ENV = "CALSYNC_SERVE_SESSION_KEY"
PATH = "/admin"


@dataclass(frozen=True)
class Session:
    """One login: the token's public key, when the session ends, its CSRF secret."""

    key: str
    ends_at: datetime
    csrf: str


class SessionSigner:
    """Makes and reads session cookies under one signing key."""

    def __init__(self, secret: str | None, lifetime: timedelta) -> None:
        self._key = (secret or secrets.token_urlsafe(32)).encode("utf-8")
        self.lifetime = lifetime

    def __repr__(self) -> str:  # the key is a secret: never in a traceback
        return f"SessionSigner(lifetime={self.lifetime})"

    def start(self, key: str, now: datetime) -> tuple[Session, str]:
        """A new session for the token of `key`, and its cookie's value."""
        session = Session(key, now + self.lifetime, secrets.token_urlsafe(32))
        body = json.dumps([session.key, int(session.ends_at.timestamp()), session.csrf])
        encoded = _b64(body.encode("utf-8"))
        return session, f"{encoded}.{self._sign(encoded)}"

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session a cookie holds, or None if it is missing, forged or over."""
        if not cookie or not cookie.isascii() or cookie.count(".") != 1:
            return None
        encoded, signature = cookie.split(".")
        if not hmac.compare_digest(self._sign(encoded), signature):
            return None
        try:
            key, ends, csrf = json.loads(_unb64(encoded))
            ends_at = datetime.fromtimestamp(int(ends), tz=now.tzinfo)
        except (ValueError, TypeError, binascii.Error):
            return None
        if ends_at <= now or not isinstance(key, str) or not isinstance(csrf, str):
            return None
        return Session(key, ends_at, csrf)

    def _sign(self, encoded: str) -> str:
        return _b64(hmac.new(self._key, encoded.encode("ascii"), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
