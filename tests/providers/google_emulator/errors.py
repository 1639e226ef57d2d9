"""Google's error answers, as the Calendar API v3 sends them.

Shape (errors guide, https://developers.google.com/calendar/api/guides/errors):

    {"error": {"code": 404, "message": "Not Found",
               "errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}],
               "status": "NOT_FOUND"}}

An operation raises `GoogleError`; the server turns it into that JSON with its status code
(and `Retry-After` when one is set). The factories below carry the reasons and messages
listed in shared/PROVIDERS.md §1.5.
"""

from __future__ import annotations

from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

DEFAULT_MESSAGES = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
    "dailyLimitExceeded": "Daily Limit Exceeded",
    "backendError": "Backend Error",
    "forbiddenForNonOrganizer": "Shared properties can only be changed by the organizer of the event.",
    "notFound": "Not Found",
}


class GoogleError(Exception):
    """One Google error answer: HTTP status, reason, domain, message (and where it points)."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str | None = None,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.message = message or DEFAULT_MESSAGES.get(reason, reason)
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.retry_after = retry_after
        super().__init__(f"{code} {reason}: {self.message}")

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        }
        if self.location:
            detail["location"] = self.location
            detail["locationType"] = self.location_type or "parameter"
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [detail]}
        if self.code in STATUS_NAMES:
            error["status"] = STATUS_NAMES[self.code]
        return {"error": error}

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.code == 401:
            headers["WWW-Authenticate"] = (
                'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            )
        return headers


def invalid(message: str = "Invalid Value", *, location: str | None = None) -> GoogleError:
    return GoogleError(400, "invalid", message, location=location)


def required(message: str) -> GoogleError:
    return GoogleError(400, "required", message)


def time_range_empty() -> GoogleError:
    return GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")


def parse_error() -> GoogleError:
    return GoogleError(400, "parseError", "Parse Error")


def auth_error() -> GoogleError:
    return GoogleError(
        401, "authError", "Invalid Credentials", location="Authorization", location_type="header"
    )


def insufficient_scopes() -> GoogleError:
    return GoogleError(
        403, "insufficientPermissions", "Request had insufficient authentication scopes."
    )


def not_found() -> GoogleError:
    return GoogleError(404, "notFound", "Not Found")


def duplicate() -> GoogleError:
    return GoogleError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> GoogleError:
    return GoogleError(410, "deleted", "Resource has been deleted")


def full_sync_required() -> GoogleError:
    return GoogleError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
    )


def condition_not_met() -> GoogleError:
    return GoogleError(
        412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
    )
