"""The API's error answers, written once: calsync's error types as HTTP statuses, and
request validation (422) with one readable line per wrong field.

Every answer is JSON with `detail` (a string, or for a 422 the list of wrong fields) and
for a 422 also `message`, e.g. `query.limit: Input should be less than or equal to 500`.

Input that validates but that the store cannot hold is a 422 too, not a 500: a NUL
character (PostgreSQL text refuses it), a lone surrogate (UTF-8 cannot encode it), a time
whose offset puts it outside years 1 to 9999 in UTC (the store keeps UTC). The answer
does not repeat the value.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, StatementError

from calsync.errors import (
    AmbiguousId,
    ApprovalDecided,
    CalendarBusy,
    CalsyncError,
    ConfigError,
    DoubleBooking,
    NotAPerformer,
    NotFound,
    ProviderError,
    ReservationChanged,
)
from calsync.sync.reservations import PolicyViolation

#: Most specific first: the first type an error is decides its status.
STATUSES: tuple[tuple[type[CalsyncError], int], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (AmbiguousId, status.HTTP_404_NOT_FOUND),
    (PolicyViolation, status.HTTP_409_CONFLICT),
    (ApprovalDecided, status.HTTP_409_CONFLICT),
    (NotAPerformer, status.HTTP_403_FORBIDDEN),
    (DoubleBooking, status.HTTP_409_CONFLICT),
    (ReservationChanged, status.HTTP_409_CONFLICT),
    (CalendarBusy, status.HTTP_409_CONFLICT),
    (ProviderError, status.HTTP_502_BAD_GATEWAY),
    (ConfigError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def calsync_error(_request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (code for kind, code in STATUSES if isinstance(exc, kind)),
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    body: dict[str, str] = {"detail": str(exc)}
    if isinstance(exc, PolicyViolation):
        body["rule"] = exc.rule
    return JSONResponse(body, status_code=code)


def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    lines = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in errors]
    body = {"message": "; ".join(lines), "detail": _without_input(errors)}
    return JSONResponse(jsonable_encoder(body), status_code=422)


def _without_input(errors: object) -> list[dict[str, object]]:
    """The wrong fields without the input they held (it may be long, or a secret)."""
    assert isinstance(errors, list | tuple)
    hidden = ("input", "ctx", "url")
    return [{k: v for k, v in error.items() if k not in hidden} for error in errors]


def unstorable_detail(exc: Exception) -> str | None:
    """What is wrong when `exc` is a value the store cannot hold; None otherwise."""
    cause = exc.orig if isinstance(exc, StatementError) else exc
    if isinstance(cause, OverflowError):
        detail = "a time is out of range: years 1 to 9999 in UTC"
    elif isinstance(cause, UnicodeEncodeError):
        detail = "text holds a character no UTF-8 encodes (a lone surrogate)"
    elif isinstance(exc, DataError):
        detail = "a value the store cannot hold (a NUL character, or out of range)"
    else:
        return None
    return detail


def unstorable(_request: Request, exc: Exception) -> JSONResponse:
    """A value the request brought that the store cannot hold: 422; anything else a
    statement failed on stays a server error."""
    detail = unstorable_detail(exc)
    if detail is None:
        raise exc
    return JSONResponse({"message": detail, "detail": detail}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CalsyncError, calsync_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StatementError, unstorable)
    app.add_exception_handler(UnicodeEncodeError, unstorable)
