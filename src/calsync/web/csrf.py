"""CSRF protection for the admin pages' forms.

Every form that changes something (reprocess, approve, reject, log out) carries the
session's CSRF secret as a hidden field `csrf` (a synchronizer token: the secret lives in
the signed session cookie, `calsync.web.session`), and a POST whose field is missing or
differs is refused with 403 before anything runs. The login form, made before there is a
session, is guarded by a double-submit token instead: a random value both in a
SameSite=Strict cookie (`calsync_login`) and in the form.
"""

from __future__ import annotations

import hmac
import secrets

LOGIN_COOKIE = "calsync_login"
FIELD = "csrf"


class CsrfRefused(Exception):
    """A form arrived without the CSRF token of its session."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check(expected: str | None, given: str | None) -> None:
    """CsrfRefused unless `given` is the (non-empty) `expected` token."""
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfRefused("the form's CSRF token is missing or wrong: reload the page and retry")
