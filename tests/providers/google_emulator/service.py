"""The Calendar API v3 operations over the emulator's state.

Routes (https://developers.google.com/calendar/api/v3/reference), relative to
`/calendar/v3`:

    GET    /calendars/{calendarId}                            calendars.get
    GET    /calendars/{calendarId}/events                     events.list
    POST   /calendars/{calendarId}/events                     events.insert
    POST   /calendars/{calendarId}/events/watch               events.watch
    GET    /calendars/{calendarId}/events/{eventId}           events.get
    PUT    /calendars/{calendarId}/events/{eventId}           events.update
    PATCH  /calendars/{calendarId}/events/{eventId}           events.patch
    DELETE /calendars/{calendarId}/events/{eventId}           events.delete
    GET    /calendars/{calendarId}/events/{eventId}/instances events.instances
    POST   /channels/stop                                     channels.stop

Each operation takes a `Call` and returns a `Reply` or raises `GoogleError`. The caller
holds the emulator's lock. After a change, every live channel on the calendar is sent an
`exists` message.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import editing
from .bodies import Author
from .calendar import Calendar, Event, Resolved, Stamps
from .errors import GoogleError, condition_not_met, invalid, not_found
from .listing import ListQuery, Page, Round, Rounds, SyncTokens, instance_items, list_events
from .push import Channel, Notifier, parse_watch
from .rooms import RoomRule

CALENDAR = "{calendar}"
EVENT = "{event}"
ROUTES: list[tuple[str, tuple[str, ...], str]] = [
    ("GET", ("calendars", CALENDAR), "calendars.get"),
    ("GET", ("calendars", CALENDAR, "events"), "events.list"),
    ("POST", ("calendars", CALENDAR, "events"), "events.insert"),
    ("POST", ("calendars", CALENDAR, "events", "watch"), "events.watch"),
    ("GET", ("calendars", CALENDAR, "events", EVENT), "events.get"),
    ("PUT", ("calendars", CALENDAR, "events", EVENT), "events.update"),
    ("PATCH", ("calendars", CALENDAR, "events", EVENT), "events.patch"),
    ("DELETE", ("calendars", CALENDAR, "events", EVENT), "events.delete"),
    ("GET", ("calendars", CALENDAR, "events", EVENT, "instances"), "events.instances"),
    ("POST", ("channels", "stop"), "channels.stop"),
]
_LIST = {
    "alwaysIncludeEmail", "eventTypes", "iCalUID", "maxAttendees", "maxResults", "orderBy",
    "pageToken", "privateExtendedProperty", "q", "sharedExtendedProperty", "showDeleted",
    "showHiddenInvitations", "singleEvents", "syncToken", "timeMax", "timeMin", "timeZone",
    "updatedMin",
}  # fmt: skip
_WRITE = {"conferenceDataVersion", "maxAttendees", "sendNotifications", "sendUpdates",
          "supportsAttachments", "alwaysIncludeEmail"}  # fmt: skip
#: Documented parameters of each operation; any other (but the standard ones) is a 400.
PARAMETERS: dict[str, set[str]] = {
    "calendars.get": set(),
    "events.list": _LIST,
    "events.watch": _LIST,
    "events.get": {"alwaysIncludeEmail", "maxAttendees", "timeZone"},
    "events.insert": _WRITE,
    "events.update": _WRITE,
    "events.patch": _WRITE,
    "events.delete": {"sendNotifications", "sendUpdates"},
    "events.instances": {
        "alwaysIncludeEmail", "maxAttendees", "maxResults", "originalStart", "pageToken",
        "showDeleted", "timeMax", "timeMin", "timeZone",
    },
    "channels.stop": set(),
}  # fmt: skip
STANDARD_PARAMETERS = {
    "$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
    "prettyPrint", "quotaUser", "upload_protocol", "uploadType", "userIp",
}  # fmt: skip
WRITES = {"events.insert", "events.update", "events.patch", "events.delete"}


def route(method: str, segments: list[str]) -> tuple[str, str | None, str | None] | None:
    """(operation, calendarId, eventId) for a path below /calendar/v3, or None."""
    for verb, pattern, operation in ROUTES:
        if verb != method or len(pattern) != len(segments):
            continue
        found: dict[str, str] = {}
        for expected, segment in zip(pattern, segments, strict=True):
            if expected in (CALENDAR, EVENT):
                found[expected] = segment
            elif expected != segment:
                break
        else:
            return operation, found.get(CALENDAR), found.get(EVENT)
    return None


@dataclass(frozen=True)
class Call:
    """One authenticated API request, routed."""

    method: str
    operation: str
    calendar: Calendar | None
    event_id: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any
    author: Author

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class CalendarService:
    """The emulator's calendars, channels and rooms, and the operations on them."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.calendars: dict[str, Calendar] = {}
        self.stamps = Stamps()
        self.tokens = SyncTokens()
        self.rounds = Rounds()
        self.channels: dict[str, Channel] = {}
        self.notifier = Notifier()
        self.rooms: dict[str, dict[str, RoomRule]] = {}
        self._operations: dict[str, Callable[[Call], Reply]] = {
            "calendars.get": self.calendars_get,
            "events.list": self.events_list,
            "events.insert": self.events_insert,
            "events.watch": self.events_watch,
            "events.get": self.events_get,
            "events.update": self.events_update,
            "events.patch": self.events_patch,
            "events.delete": self.events_delete,
            "events.instances": self.events_instances,
            "channels.stop": self.channels_stop,
        }

    def call(self, call: Call) -> Reply:
        before = call.calendar.counter if call.calendar else 0
        reply = self._operations[call.operation](call)
        if call.calendar is not None and call.calendar.counter != before:
            self.notify_change(call.calendar)
        return reply

    def notify_change(self, calendar: Calendar) -> None:
        for channel in self.channels.values():
            if channel.calendar_id == calendar.id and channel.live():
                self.notifier.send(channel, "exists")

    def decide(self, calendar: Calendar, event: Event) -> None:
        """The room's own answer on an event written through the API (rooms.py)."""
        for rule in self.rooms.get(calendar.id, {}).values():
            rule.decide(calendar, event)

    # Reading

    def calendars_get(self, call: Call) -> Reply:
        calendar = _calendar(call)
        return Reply(
            200,
            {
                "kind": "calendar#calendar",
                "etag": f'"{calendar.counter}"',
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
            },
        )

    def events_list(self, call: Call) -> Reply:
        calendar = _calendar(call)
        page = list_events(calendar, ListQuery.parse(call.query), self.tokens, self.rounds)
        return Reply(200, _events_answer(calendar, page, call.one("timeZone")))

    def events_get(self, call: Call) -> Reply:
        calendar = _calendar(call)
        event = _resolve(calendar, call).current(calendar)
        if call.headers.get("if-none-match") == event["etag"]:
            return Reply(304, None, {"ETag": event["etag"]})
        return _event_reply(event)

    def events_instances(self, call: Call) -> Reply:
        calendar = _calendar(call)
        target = _resolve(calendar, call)
        query = ListQuery.parse(call.query)
        if query.page_token:
            page = self.rounds.next_page(query.page_token, query.max_results)
        else:
            master = target.stored or target.master or {}
            items = instance_items(calendar, master, query)
            page = self.rounds.first_page(Round(items, None), query.max_results)
        return Reply(200, _events_answer(calendar, page, call.one("timeZone")))

    # Writing

    def events_insert(self, call: Call) -> Reply:
        calendar = _calendar(call)
        _check_send_updates(call)
        event = editing.insert(calendar, call.body, call.author, self.stamps, self.decide)
        return _event_reply(event)

    def events_update(self, call: Call) -> Reply:
        return self._write(call, patch=False)

    def events_patch(self, call: Call) -> Reply:
        return self._write(call, patch=True)

    def _write(self, call: Call, *, patch: bool) -> Reply:
        calendar = _calendar(call)
        _check_send_updates(call)
        target = _resolve(calendar, call)
        _check_if_match(call, target.current(calendar))
        event = editing.write(
            calendar, target, call.body, call.author, self.stamps, patch=patch, decide=self.decide
        )
        return _event_reply(event)

    def events_delete(self, call: Call) -> Reply:
        calendar = _calendar(call)
        _check_send_updates(call)
        target = _resolve(calendar, call)
        _check_if_match(call, target.current(calendar))
        editing.cancel(calendar, target, self.stamps)
        return Reply(204)

    # Push

    def events_watch(self, call: Call) -> Reply:
        calendar = _calendar(call)
        channel_id, address, token, expiration = parse_watch(call.body)
        if channel_id in self.channels:
            raise GoogleError(400, "channelIdNotUnique", "Channel id not unique")
        channel = Channel(
            id=channel_id,
            calendar_id=calendar.id,
            resource_id=calendar.resource_id,
            resource_uri=f"{self.api_url}/calendars/{quote(calendar.id, safe='')}/events?alt=json",
            address=address,
            token=token,
            expiration_ms=expiration,
        )
        self.channels[channel_id] = channel
        self.notifier.send(channel, "sync")
        return Reply(200, channel.describe())

    def channels_stop(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        channel = self.channels.get(str(body.get("id")))
        if channel is None or channel.stopped or channel.resource_id != body.get("resourceId"):
            raise GoogleError(
                404,
                "notFound",
                f"Channel '{body.get('id')}' not found for project 'calsync-emulator'",
            )
        channel.stopped = True
        return Reply(204)


def _calendar(call: Call) -> Calendar:
    if call.calendar is None:
        raise not_found()
    return call.calendar


def _resolve(calendar: Calendar, call: Call) -> Resolved:
    target = calendar.resolve(call.event_id or "")
    if target is None:
        raise not_found()
    return target


def _check_if_match(call: Call, current: Event) -> None:
    """Google answers a stale `If-Match` with 412 conditionNotMet (PROVIDERS.md §1.3)."""
    wanted = call.headers.get("if-match")
    if wanted is not None and wanted.strip() not in ("*", current["etag"]):
        raise condition_not_met()


def _check_send_updates(call: Call) -> None:
    value = call.one("sendUpdates")
    if value is not None and value not in ("all", "externalOnly", "none"):
        raise invalid("Invalid value for sendUpdates.", location="sendUpdates")


def _event_reply(event: Event) -> Reply:
    return Reply(200, copy.deepcopy(event), {"ETag": event["etag"]})


def _events_answer(calendar: Calendar, page: Page, time_zone: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"{calendar.counter}"',
        "summary": calendar.summary,
        "description": "",
        "updated": calendar.updated,
        "timeZone": time_zone or calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
        "items": page.items,
    }
    if page.next_page_token:
        answer["nextPageToken"] = page.next_page_token
    if page.next_sync_token:
        answer["nextSyncToken"] = page.next_sync_token
    return answer
