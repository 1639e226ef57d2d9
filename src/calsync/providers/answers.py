"""What a CalDAV server's answer means, in calsync's errors (the boundary, as httpx's
`map_httpcore_exceptions`): `check_sync_answer`, `fail`, `already_exists`, `retry_after`.

- An invalid or expired token is `DAV:valid-sync-token` with 403 (Radicale), 409 (RFC 4791
  §1.3) or 412 (Xandikos), or 418 (old Nextcloud): DeltaKeyExpired.
- No sync-collection on the collection (`DAV:supported-report`, 400/405/501): SyncUnsupported.
- 5xx: ProviderUnavailable; 401/403 and other refusals: ProviderRejected(status).
- Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3), at most a day.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import NoReturn

import httpx

from calsync.errors import DeltaKeyExpired, ProviderRejected, ProviderUnavailable
from calsync.providers import webdav

TOKEN_EXPIRED = "valid-sync-token"
#: A server asking to wait longer than a day is waited for a day.
_LONGEST_WAIT = 86400.0


class SyncUnsupported(Exception):
    """The server does not offer the sync-collection REPORT on this collection."""


def check_sync_answer(response: httpx.Response, token: str | None) -> None:
    """Raise for a sync-collection answer that is not a multistatus."""
    status = response.status_code
    if status == 207:
        return
    found = webdav.preconditions(response.content)
    if token and (status == 418 or (status in (403, 409, 412) and TOKEN_EXPIRED in found)):
        raise DeltaKeyExpired(f"{response.request.url} refused sync-token {token!r} ({status})")
    if status in (400, 405, 501) or (status == 403 and "supported-report" in found):
        raise SyncUnsupported
    fail(response, f"synchronizing {response.request.url}")


def fail(response: httpx.Response, what: str) -> NoReturn:
    status = response.status_code
    if status >= 500:
        raise ProviderUnavailable(f"{what}: the server answered {status}")
    if status in (401, 403):
        raise ProviderRejected(f"{what}: not authorized ({status})", status)
    raise ProviderRejected(f"{what}: the server answered {status}", status)


def already_exists(response: httpx.Response) -> bool:
    return response.status_code == 405 or (
        response.status_code in (403, 409)
        and "resource-must-be-null" in webdav.preconditions(response.content)
    )


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    if re.fullmatch(r"\s*\d+\s*", value, re.ASCII):
        # Capped before it is converted: six digits or more (leading zeros aside) are
        # over a day, whatever their number (int() refuses over 4300 of them).
        digits = value.strip().lstrip("0") or "0"
        return _LONGEST_WAIT if len(digits) > 5 else min(float(digits), _LONGEST_WAIT)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, moment.timestamp() - time.time()), _LONGEST_WAIT)
