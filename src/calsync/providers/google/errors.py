"""What a Calendar API error answer means, in calsync's errors: `fail(response, what)`.

Google answers errors as JSON (https://developers.google.com/calendar/api/guides/errors):
`{"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}`.
The reason decides, as PROVIDERS.md §1.5 lays out:

- 403 `rateLimitExceeded` / `userRateLimitExceeded`, and 429: ProviderThrottled, after
  the Retry-After delay when one is given;
- 403 `quotaExceeded` (the user's Calendar usage limits: read-only for hours) and
  `dailyLimitExceeded` (the project's daily quota): ProviderThrottled for an hour;
- 5xx: ProviderUnavailable (ProviderThrottled when Retry-After says when to come back);
- 401 (after the adapter refreshed its token once), 403 `forbiddenForNonOrganizer` and
  every other 4xx, 404, 410 and 412 `conditionNotMet` included: ProviderRejected(status).

Messages name the status, reason and Google's message, never a token or key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import httpx

from calsync.errors import ProviderRejected, ProviderThrottled, ProviderUnavailable
from calsync.providers.answers import retry_after

_RATE_LIMITS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_QUOTAS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
#: How long a quota answer is waited out: usage limits last hours (PROVIDERS.md §1.5).
QUOTA_WAIT = 3600.0
_SHOWN = 200


@dataclass(frozen=True)
class GoogleAnswer:
    """The status, reason and message of an error answer (empty where it has none)."""

    status: int
    reason: str
    message: str

    @classmethod
    def of(cls, response: httpx.Response, redact: Callable[[str], str] = str) -> GoogleAnswer:
        reason = message = ""
        try:
            error = json.loads(response.content).get("error")
        except (ValueError, AttributeError, RecursionError):
            error = None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            details = error.get("errors")
            if isinstance(details, list) and details and isinstance(details[0], dict):
                reason = str(details[0].get("reason") or "")
            reason = reason or str(error.get("status") or "")
        return cls(response.status_code, _shown(redact(reason)), _shown(redact(message)))

    def __str__(self) -> str:
        said = f" {self.reason}" if self.reason else ""
        if self.message and self.message != self.reason:
            said += f" ({self.message})"
        return f"{self.status}{said}"


def fail(response: httpx.Response, what: str, redact: Callable[[str], str] = str) -> NoReturn:
    """Raise the calsync error for an error answer to `what` (a request's purpose);
    `redact` takes secrets out of what Google said."""
    answer = GoogleAnswer.of(response, redact)
    status, delay = answer.status, retry_after(response.headers.get("retry-after"))
    if status == 429 or (status == 403 and answer.reason in _RATE_LIMITS):
        raise ProviderThrottled(f"{what}: Google asks to slow down: {answer}", delay)
    if status == 403 and answer.reason in _QUOTAS:
        raise ProviderThrottled(
            f"{what}: the calendar's usage limits were exceeded ({answer}); calsync waits "
            "an hour before asking again",
            max(delay or 0.0, QUOTA_WAIT),
        )
    if status >= 500:
        if delay is not None:
            raise ProviderThrottled(f"{what}: Google answered {answer}", delay)
        raise ProviderUnavailable(f"{what}: Google answered {answer}")
    if status == 401:
        raise ProviderRejected(
            f"{what}: Google refused the service account's credentials ({answer}), also "
            "with a fresh token",
            401,
        )
    raise ProviderRejected(f"{what}: Google answered {answer}", status)


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
