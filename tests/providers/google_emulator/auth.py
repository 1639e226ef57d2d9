"""Google's OAuth 2.0 token endpoint for service accounts, and bearer-token checks.

Follows "Using OAuth 2.0 for Server to Server Applications"
(https://developers.google.com/identity/protocols/oauth2/service-account): the client
POSTs `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>` to the
key file's `token_uri`; the JWT is RS256-signed with the key file's private key and
claims `iss` (client_email), `scope` (space-separated), `aud`, `iat`, `exp`
(at most an hour after iat) and, for domain-wide delegation, `sub` (the user to act as).
`aud` is the token_uri, or Google's own endpoint, which google-auth always writes there.
The answer is `{"access_token", "expires_in": 3600, "token_type": "Bearer"}`; a refused
assertion is a 400 with `{"error", "error_description"}`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from .errors import auth_error
from .keys import (
    InvalidToken,
    PrivateKey,
    load_private_key,
    shared_private_key,
    sign_jwt,
    verify_jwt,
)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CALENDAR = "https://www.googleapis.com/auth/calendar"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
READ_ONLY = {
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
}
WRITE_SCOPES = {CALENDAR, CALENDAR_EVENTS}
LIFETIME = 3600
#: Google's token endpoint: google-auth puts it in `aud` whatever the key file's token_uri
#: (google/oauth2/service_account.py, `_make_authorization_grant_assertion`).
GOOGLE_TOKEN_ENDPOINT = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class Grant:
    """One access token handed out: whom it acts as and what it may do."""

    access_token: str
    subject: str | None
    scopes: frozenset[str]
    expires_at: float

    @property
    def can_write(self) -> bool:
        return bool(self.scopes & WRITE_SCOPES)


class TokenRefused(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.body = {"error": error, "error_description": description}


class Authority:
    """The emulator's one service account, its key, and the access tokens it granted."""

    def __init__(self, token_uri: str) -> None:
        self.token_uri = token_uri
        self.client_email = "calsync-sync@calsync-emulator.iam.gserviceaccount.com"
        self.client_id = str(secrets.randbelow(10**21))
        self.private_key_id = secrets.token_hex(20)
        self._key: PrivateKey | None = None
        self._domains: set[str] = set()
        self._grants: dict[str, Grant] = {}
        self._failures: list[TokenRefused] = []
        self.token_requests = 0
        self.subjects: list[str | None] = []

    @property
    def key(self) -> PrivateKey:
        if self._key is None:
            self._key = shared_private_key()
        return self._key

    def service_account_info(self, subject_domain: str) -> dict[str, Any]:
        """A service-account key file (JSON) allowed to act as users of `subject_domain`."""
        self._domains.add(subject_domain.lower())
        return {
            "type": "service_account",
            "project_id": "calsync-emulator",
            "private_key_id": self.private_key_id,
            "private_key": self.key.pem(),
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + self.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def fail_next(self, count: int, refusal: TokenRefused) -> None:
        self._failures.extend([refusal] * count)

    def revoke(self) -> None:
        self._grants.clear()

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """Answer a token request, or raise TokenRefused."""
        self.token_requests += 1
        if self._failures:
            raise self._failures.pop(0)
        if form.get("grant_type") != JWT_BEARER:
            raise TokenRefused("unsupported_grant_type", "Invalid grant_type.")
        claims = self._verified_claims(form.get("assertion", ""))
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes & (WRITE_SCOPES | READ_ONLY):
            raise TokenRefused("invalid_scope", "No Calendar scope was requested.")
        subject = claims.get("sub")
        if subject is not None and not self._may_act_as(str(subject)):
            raise TokenRefused(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or "
                "client not authorized for any of the scopes requested.",
            )
        self.subjects.append(subject)
        token = "ya29." + secrets.token_urlsafe(32)
        self._grants[token] = Grant(token, subject, scopes, time.time() + LIFETIME)
        return {"access_token": token, "expires_in": LIFETIME, "token_type": "Bearer"}

    def check(self, authorization: str | None) -> Grant:
        """The grant behind an `Authorization: Bearer` header, or a 401 authError."""
        scheme, _, token = (authorization or "").partition(" ")
        grant = self._grants.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at < time.time():
            raise auth_error()
        return grant

    def _verified_claims(self, assertion: str) -> dict[str, Any]:
        try:
            header, claims = verify_jwt(self.key.public, assertion)
        except InvalidToken as exc:
            raise TokenRefused("invalid_grant", str(exc)) from None
        if header.get("kid") not in (None, self.private_key_id):
            raise TokenRefused("invalid_grant", "Invalid JWT Signature.")
        if claims.get("iss") != self.client_email:
            raise TokenRefused("invalid_grant", "Invalid JWT: unknown issuer.")
        if claims.get("aud") not in (self.token_uri, GOOGLE_TOKEN_ENDPOINT):
            raise TokenRefused("invalid_grant", "Invalid JWT: Failed audience check.")
        now = time.time()
        issued, expires = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(issued, int | float)
            or not isinstance(expires, int | float)
            or expires <= now
            or issued > now + 300
            or expires - issued > LIFETIME + 60
        ):
            raise TokenRefused(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        return claims

    def _may_act_as(self, subject: str) -> bool:
        return subject.rpartition("@")[2].lower() in self._domains


def service_account_assertion(
    info: dict[str, Any],
    scopes: list[str] | tuple[str, ...] = (CALENDAR,),
    subject: str | None = None,
    *,
    lifetime: int = LIFETIME,
) -> str:
    """The JWT a client library builds from a key file (google-auth's service_account)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": info["client_email"],
        "scope": " ".join(scopes),
        "aud": info["token_uri"],
        "iat": now,
        "exp": now + lifetime,
    }
    if subject is not None:
        claims["sub"] = subject
    return sign_jwt(load_private_key(info["private_key"]), claims, info.get("private_key_id"))
