"""`GoogleCalendarEmulator`: Google Calendar API v3 and Google's token endpoint on a loopback
port, with a test-side API for changing calendars behind the client's back and for
injecting faults. See the package docstring for a short tour.
"""

from __future__ import annotations

import copy
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Self
from urllib.parse import parse_qs, unquote

from . import editing
from .auth import Authority, TokenRefused
from .bodies import Author
from .calendar import Calendar, Event, Resolved, is_cancelled
from .errors import GoogleError, insufficient_scopes, not_found
from .push import Delivery
from .rooms import MODES, Mode, RoomRule
from .server import EmulatorServer, HttpAnswer, HttpRequest, json_answer, json_body
from .service import (
    PARAMETERS,
    STANDARD_PARAMETERS,
    WRITES,
    CalendarService,
    Call,
    Reply,
    route,
)

API_PREFIX = "/calendar/v3/"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator answered (token requests included, operation "token")."""

    method: str
    path: str
    query: dict[str, str]  # the last value of each parameter
    status: int
    bytes_in: int
    bytes_out: int  # body bytes as sent (compressed when gzip was accepted)
    operation: str | None
    calendar_id: str | None


@dataclass
class _Failure:
    remaining: int
    error: Callable[[], GoogleError]
    methods: frozenset[str] | None
    operations: frozenset[str] | None

    def matches(self, method: str, operation: str) -> bool:
        return (self.methods is None or method in self.methods) and (
            self.operations is None or operation in self.operations
        )


class GoogleCalendarEmulator:
    """A Google Calendar API v3 on http://127.0.0.1:PORT, for tests. Use as a context manager.

    `api_url` is the base for `/calendars/...` and `/channels/stop`; `token_uri` is the
    OAuth token endpoint named in `service_account_info()`. All state sits behind one lock.
    """

    def __init__(
        self, *, auto_create_calendars: bool = False, default_time_zone: str = "Europe/Berlin"
    ) -> None:
        self._lock = threading.RLock()
        self._server = EmulatorServer(self._serve, self._served)
        self.url = self._server.url
        self.api_url = self.url + "/calendar/v3"
        self.token_uri = self.url + "/token"
        self.auto_create_calendars = auto_create_calendars
        self.default_time_zone = default_time_zone
        self.requests: list[RecordedRequest] = []
        #: Tracebacks of requests the emulator itself failed on (answered 500): keep empty.
        self.internal_errors: list[str] = []
        self._authority = Authority(self.token_uri)
        self._service = CalendarService(self.api_url)
        self._failures: list[_Failure] = []

    # Lifecycle

    def start(self) -> Self:
        self._server.start()
        return self

    def close(self) -> None:
        self._server.stop()
        self._service.notifier.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Credentials

    def service_account_info(self, subject_domain: str = "example.com") -> dict[str, Any]:
        """A service-account key file (as JSON) whose `token_uri` is this emulator.

        The account may act as (`sub`) any user of `subject_domain`, as domain-wide
        delegation allows; the RSA-2048 key is made once per test process.
        """
        with self._lock:
            return self._authority.service_account_info(subject_domain)

    @property
    def token_requests(self) -> int:
        return self._authority.token_requests

    @property
    def token_subjects(self) -> list[str | None]:
        """The `sub` of each access token granted, in order (None: no impersonation)."""
        return list(self._authority.subjects)

    def revoke_tokens(self) -> None:
        """Every access token handed out so far is refused from now on (401 authError)."""
        with self._lock:
            self._authority.revoke()

    def fail_token_requests(
        self,
        count: int,
        error: str = "invalid_grant",
        description: str = "Invalid grant: account not found",
        status: int = 400,
    ) -> None:
        """The next `count` token requests are refused with `{"error", "error_description"}`."""
        with self._lock:
            self._authority.fail_next(count, TokenRefused(error, description, status))

    # Faults

    def fail_next(
        self,
        count: int,
        status: int = 429,
        reason: str = "rateLimitExceeded",
        domain: str = "usageLimits",
        retry_after: int | None = None,
        methods: list[str] | tuple[str, ...] | None = None,
        operations: list[str] | tuple[str, ...] | None = None,
        message: str | None = None,
    ) -> None:
        """The next `count` authenticated API requests (of these HTTP methods / operations
        such as "events.list", if given) are answered with this Google error instead."""

        def error() -> GoogleError:
            return GoogleError(status, reason, message, domain=domain, retry_after=retry_after)

        with self._lock:
            self._failures.append(
                _Failure(
                    count,
                    error,
                    frozenset(m.upper() for m in methods) if methods else None,
                    frozenset(operations) if operations else None,
                )
            )

    # Calendars and events, behind the client's back

    def add_calendar(
        self, calendar_id: str, time_zone: str | None = None, summary: str | None = None
    ) -> None:
        with self._lock:
            self._calendar(calendar_id, create=True, time_zone=time_zone, summary=summary)

    def put_event(self, calendar_id: str, body: dict[str, Any]) -> Event:
        """Create the event, or replace the one with `body["id"]`; the calendar is created if
        needed. Fields the API treats as read-only (organizer, creator, recurringEventId,
        originalStartTime) are taken as given, as an import would."""
        with self._lock:
            calendar = self._calendar(calendar_id, create=True)
            author = Author(_organizer_email(body) or calendar_id, api=False)
            target = calendar.resolve(str(body.get("id"))) if body.get("id") else None
            stamps = self._service.stamps
            if target is not None and target.stored is not None:
                event = editing.write(calendar, target, body, author, stamps, patch=False)
            else:
                event = editing.insert(calendar, body, author, stamps)
            self._service.notify_change(calendar)
            return copy.deepcopy(event)

    def patch_event(self, calendar_id: str, event_id: str, fields: dict[str, Any]) -> Event:
        """Merge `fields` into an event (or an instance: its exception), Google patch style."""
        with self._lock:
            calendar, target = self._target(calendar_id, event_id)
            author = Author(calendar_id, api=False)
            event = editing.write(
                calendar, target, fields, author, self._service.stamps, patch=True
            )
            self._service.notify_change(calendar)
            return copy.deepcopy(event)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Cancel an event (tombstone kept) or one instance of a series."""
        with self._lock:
            calendar, target = self._target(calendar_id, event_id)
            editing.cancel(calendar, target, self._service.stamps)
            self._service.notify_change(calendar)

    def cancel_instance(
        self, calendar_id: str, master_id: str, original_start: datetime | date | str
    ) -> None:
        """Cancel the instance of `master_id` originally starting at `original_start` (an
        aware datetime, a date for all-day series, or an instance-id suffix)."""
        if isinstance(original_start, datetime):
            suffix = original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        elif isinstance(original_start, date):
            suffix = original_start.strftime("%Y%m%d")
        else:
            suffix = original_start
        self.delete_event(calendar_id, f"{master_id}_{suffix}")

    def event(self, calendar_id: str, event_id: str) -> Event | None:
        """The event or instance as events.get would show it; None if there is none."""
        with self._lock:
            calendar = self._service.calendars.get(calendar_id)
            target = calendar.resolve(event_id) if calendar else None
            return copy.deepcopy(target.current(calendar)) if target and calendar else None

    def events(self, calendar_id: str, include_cancelled: bool = False) -> list[Event]:
        """The stored events (single events, masters, exceptions), oldest first."""
        with self._lock:
            calendar = self._service.calendars.get(calendar_id)
            stored = calendar.events.values() if calendar else []
            return [copy.deepcopy(e) for e in stored if include_cancelled or not is_cancelled(e)]

    def expire_sync_tokens(self, calendar_id: str) -> None:
        """Sync tokens issued so far for the calendar answer 410 fullSyncRequired."""
        with self._lock:
            self._calendar(calendar_id).generation += 1

    def room_decides(
        self, calendar_id: str, room_email: str, mode: Mode = "accept_unless_busy"
    ) -> None:
        """The room answers API writes on its calendar itself (see rooms.py for the modes)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self._lock:
            self._calendar(calendar_id, create=True)
            rules = self._service.rooms.setdefault(calendar_id, {})
            rules[room_email.lower()] = RoomRule(room_email, mode)

    # Push

    def channels(self) -> list[dict[str, Any]]:
        """The live channels: their api#channel resource plus calendarId and address."""
        with self._lock:
            return [
                {**c.describe(), "calendarId": c.calendar_id, "address": c.address}
                for c in self._service.channels.values()
                if c.live()
            ]

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self._service.notifier.deliveries)

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """All deliveries, once at least `count` were made (or `timeout` passed)."""
        return self._service.notifier.wait(count, timeout)

    def drop_notifications(self, count: int) -> None:
        """The next `count` messages are not sent ("Notifications are not 100% reliable")."""
        with self._lock:
            self._service.notifier.drop_next(count)

    def expire_channel(self, channel_id: str) -> None:
        with self._lock:
            self._service.channels[channel_id].expiration_ms = 0

    # Request log

    def reset_counters(self) -> None:
        """Forget the request log, the token request count and the deliveries."""
        with self._lock:
            self.requests.clear()
            self._authority.token_requests = 0
            self._service.notifier.deliveries.clear()

    # Serving

    def _serve(self, request: HttpRequest) -> HttpAnswer:
        path = request.target.partition("?")[0]
        try:
            with self._lock:
                if path == "/token" and request.method == "POST":
                    return self._token(request)
                if path.startswith(API_PREFIX):
                    return self._api(request)
                raise not_found()
        except GoogleError as error:
            return json_answer(error.code, error.body(), error.headers())
        except Exception:  # noqa: BLE001 - a bug of the emulator, answered like Google's 500
            self.internal_errors.append(traceback.format_exc())
            return json_answer(500, GoogleError(500, "backendError").body())

    def _token(self, request: HttpRequest) -> HttpAnswer:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        try:
            answer = self._authority.grant(form)
        except TokenRefused as refused:
            return json_answer(refused.status, refused.body, operation="token")
        return json_answer(200, answer, operation="token")

    def _api(self, request: HttpRequest) -> HttpAnswer:
        path, _, raw_query = request.target.partition("?")
        segments = [unquote(s) for s in path[len(API_PREFIX) :].split("/")]
        routed = route(request.method, segments)
        if routed is None:
            raise not_found()
        operation, calendar_id, event_id = routed
        try:
            reply = self._call(request, operation, calendar_id, event_id, raw_query)
        except GoogleError as error:
            return json_answer(error.code, error.body(), error.headers(), operation, calendar_id)
        return json_answer(reply.status, reply.body, reply.headers, operation, calendar_id)

    def _call(
        self,
        request: HttpRequest,
        operation: str,
        calendar_id: str | None,
        event_id: str | None,
        raw_query: str,
    ) -> Reply:
        """Authenticate, apply injected faults, check parameters, run the operation."""
        grant = self._authority.check(request.headers.get("authorization"))
        if operation in WRITES and not grant.can_write:
            raise insufficient_scopes()
        self._take_failure(request.method, operation)
        query = parse_qs(raw_query, keep_blank_values=True)
        for name in query:
            if name not in PARAMETERS[operation] | STANDARD_PARAMETERS:
                raise GoogleError(400, "invalidParameter", f"Unknown parameter: {name}")
        if calendar_id == "primary":
            calendar_id = grant.subject or self._authority.client_email
        call = Call(
            method=request.method,
            operation=operation,
            calendar=self._calendar_for(calendar_id),
            event_id=event_id,
            query=query,
            headers=request.headers,
            body=json_body(request),
            author=Author(grant.subject or self._authority.client_email, api=True),
        )
        return self._service.call(call)

    def _take_failure(self, method: str, operation: str) -> None:
        for failure in self._failures:
            if failure.matches(method, operation):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                raise failure.error()

    def _served(self, request: HttpRequest, answer: HttpAnswer, bytes_out: int) -> None:
        path, _, raw_query = request.target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        record = RecordedRequest(
            request.method,
            unquote(path),
            query,
            answer.status,
            len(request.body),
            bytes_out,
            answer.operation,
            answer.calendar_id,
        )
        with self._lock:
            self.requests.append(record)

    def _calendar_for(self, calendar_id: str | None) -> Calendar | None:
        """The calendar an API path names; None (404) if unknown, unless auto-created."""
        if calendar_id is None:
            return None
        if calendar_id in self._service.calendars or self.auto_create_calendars:
            return self._calendar(calendar_id)
        return None

    def _calendar(
        self,
        calendar_id: str,
        *,
        create: bool = True,
        time_zone: str | None = None,
        summary: str | None = None,
    ) -> Calendar:
        calendars = self._service.calendars
        if calendar_id not in calendars:
            if not create:
                raise KeyError(calendar_id)
            calendars[calendar_id] = Calendar(
                calendar_id, time_zone or self.default_time_zone, summary or calendar_id
            )
        calendar = calendars[calendar_id]
        if time_zone:
            calendar.time_zone = time_zone
        if summary:
            calendar.summary = summary
        return calendar

    def _target(self, calendar_id: str, event_id: str) -> tuple[Calendar, Resolved]:
        calendar = self._calendar(calendar_id, create=False)
        target = calendar.resolve(event_id)
        if target is None:
            raise KeyError(f"no event {event_id!r} in {calendar_id!r}")
        return calendar, target


def _organizer_email(body: dict[str, Any]) -> str | None:
    organizer = body.get("organizer")
    return organizer.get("email") if isinstance(organizer, dict) else None
