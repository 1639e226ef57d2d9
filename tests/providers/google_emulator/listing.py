"""`events.list` and `events.instances`: full and incremental rounds, pages, sync tokens.

Follows the sync guide (https://developers.google.com/calendar/api/guides/sync) and the
events.list reference, as summarised in shared/PROVIDERS.md §1.1:

- a round is one full or incremental listing, paged with `nextPageToken`/`pageToken`;
  `nextSyncToken` is "present only on the very last page";
- a round's items are fixed when its first page is served (the page token names that
  snapshot), so a change made while a client pages shows up in the next incremental round
  instead of being lost; the sync token of a round covers exactly the changes up to its
  first page;
- with `syncToken`, the parameters iCalUID, orderBy, privateExtendedProperty, q,
  sharedExtendedProperty, timeMin, timeMax and updatedMin are refused (400 `invalid`), as
  are `showDeleted=false` ("it is not allowed to set showDeleted to False") and a
  `singleEvents` different from the round that issued the token (Google calls that
  undefined behaviour; the emulator refuses it so clients are caught);
- an expired (`expire_sync_tokens`), unknown or garbled sync token is a 410
  `fullSyncRequired`;
- without `syncToken`, cancelled events appear only with `showDeleted=true` or
  `updatedMin`, except the cancelled exceptions of a live series when singleEvents=false
  ("Cancelled instances of recurring events (but not the underlying recurring event) will
  still be included if showDeleted and singleEvents are both False").
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .calendar import Calendar, Event, is_cancelled, is_master, tombstone
from .errors import GoogleError, full_sync_required, invalid, time_range_empty
from .recurrence import MAX_INSTANCES
from .times import event_time_or_none, parse_timestamp

FORBIDDEN_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
MAX_RESULTS = 2500
DEFAULT_RESULTS = 250
Query = dict[str, list[str]]


@dataclass(frozen=True)
class ListQuery:
    """The parameters of one events.list or events.instances request."""

    single_events: bool = False
    show_deleted: bool | None = None
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    order_by: str | None = None
    q: str | None = None
    ical_uid: str | None = None
    private: tuple[tuple[str, str], ...] = ()
    shared: tuple[tuple[str, str], ...] = ()
    max_results: int = DEFAULT_RESULTS
    sync_token: str | None = None
    page_token: str | None = None

    @classmethod
    def parse(cls, query: Query) -> ListQuery:
        one = {name: values[-1] for name, values in query.items()}
        if "syncToken" in one:
            for name in FORBIDDEN_WITH_SYNC_TOKEN:
                if name in one:
                    raise invalid(
                        f"Bad Request: {name} cannot be specified together with syncToken.",
                        location=name,
                    )
            if one.get("showDeleted") == "false":
                raise invalid("showDeleted cannot be false with syncToken.", location="showDeleted")
        parsed = cls(
            single_events=_boolean(one, "singleEvents") or False,
            show_deleted=_boolean(one, "showDeleted"),
            time_min=_timestamp(one, "timeMin"),
            time_max=_timestamp(one, "timeMax"),
            updated_min=_timestamp(one, "updatedMin"),
            order_by=one.get("orderBy"),
            q=one.get("q"),
            ical_uid=one.get("iCalUID"),
            private=_properties(query.get("privateExtendedProperty", [])),
            shared=_properties(query.get("sharedExtendedProperty", [])),
            max_results=_max_results(one.get("maxResults")),
            sync_token=one.get("syncToken"),
            page_token=one.get("pageToken"),
        )
        parsed._check()
        return parsed

    def _check(self) -> None:
        if self.time_min and self.time_max and self.time_max <= self.time_min:
            raise time_range_empty()
        if self.order_by not in (None, "startTime", "updated"):
            raise invalid("Invalid value for orderBy.", location="orderBy")
        if self.order_by == "startTime" and not self.single_events:
            raise invalid("The requested ordering is not available for the particular query.")


def _boolean(one: dict[str, str], name: str) -> bool | None:
    if name not in one:
        return None
    if one[name] not in ("true", "false"):
        raise invalid(f"Invalid boolean value for {name}.", location=name)
    return one[name] == "true"


def _timestamp(one: dict[str, str], name: str) -> datetime | None:
    return parse_timestamp(one[name], name) if name in one else None


def _properties(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, equals, wanted = value.partition("=")
        if not equals:
            raise invalid("Extended property filters are propertyName=value.")
        pairs.append((key, wanted))
    return tuple(pairs)


def _max_results(text: str | None) -> int:
    if text is None:
        return DEFAULT_RESULTS
    try:
        value = int(text)
    except ValueError:
        raise invalid("Invalid value for maxResults.", location="maxResults") from None
    if value < 1:
        raise invalid("Invalid value for maxResults.", location="maxResults")
    return min(value, MAX_RESULTS)


class SyncTokens:
    """Opaque, signed sync tokens: (calendar, change counter, singleEvents, generation)."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def issue(self, calendar: Calendar, single_events: bool) -> str:
        claims = [calendar.id, calendar.counter, single_events, calendar.generation]
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload)}"

    def read(self, token: str, calendar: Calendar) -> tuple[int, bool]:
        """(counter, singleEvents) of a token still valid for `calendar`, else 410."""
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise full_sync_required()
        calendar_id, counter, single_events, generation = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
        if calendar_id != calendar.id or generation != calendar.generation:
            raise full_sync_required()
        return counter, single_events

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:22]


@dataclass
class Round:
    items: list[Event]
    sync_token: str | None


@dataclass(frozen=True)
class Page:
    items: list[Event]
    next_page_token: str | None
    next_sync_token: str | None


class Rounds:
    """Snapshots of the rounds being paged, found again by their page tokens."""

    KEPT = 500

    def __init__(self) -> None:
        self._pages: OrderedDict[str, tuple[Round, int]] = OrderedDict()

    def first_page(self, round_: Round, size: int) -> Page:
        return self._page(round_, 0, size)

    def next_page(self, page_token: str, size: int) -> Page:
        if page_token not in self._pages:
            raise GoogleError(400, "invalid", "Invalid page token.", location="pageToken")
        round_, offset = self._pages[page_token]
        return self._page(round_, offset, size)

    def _page(self, round_: Round, offset: int, size: int) -> Page:
        items = round_.items[offset : offset + size]
        if offset + size >= len(round_.items):
            return Page(items, None, round_.sync_token)
        token = secrets.token_urlsafe(24)
        self._pages[token] = (round_, offset + size)
        while len(self._pages) > self.KEPT:
            self._pages.popitem(last=False)
        return Page(items, token, None)


def list_events(calendar: Calendar, query: ListQuery, tokens: SyncTokens, rounds: Rounds) -> Page:
    if query.page_token:
        return rounds.next_page(query.page_token, query.max_results)
    if query.sync_token:
        since, single_events = tokens.read(query.sync_token, calendar)
        if single_events != query.single_events:
            raise invalid(
                "singleEvents must be the same as in the request that issued the syncToken.",
                location="singleEvents",
            )
        items = incremental_items(calendar, since, single_events)
    else:
        items = full_items(calendar, query)
    return rounds.first_page(
        Round(items, tokens.issue(calendar, query.single_events)), query.max_results
    )


def incremental_items(calendar: Calendar, since: int, single_events: bool) -> list[Event]:
    """Every event changed after `since`, cancelled ones as tombstones, in change order."""
    changed = sorted(
        (e for e in calendar.events.values() if calendar.changed_at[e["id"]] > since),
        key=lambda e: calendar.changed_at[e["id"]],
    )
    if not single_events:
        return [_render(e) for e in changed]
    found: dict[str, Event] = {}
    for event in changed:
        if is_master(event) or event["id"] in calendar.known_instances:
            for instance in _series_for_sync(calendar, event):
                found[instance["id"]] = instance
        if not is_master(event):
            found[event["id"]] = _render(event)
    return list(found.values())


def _series_for_sync(calendar: Calendar, master: Event) -> list[Event]:
    """A changed master as singleEvents=true shows it: every instance it has or had."""
    known = calendar.known_instances.get(master["id"], {})
    exceptions = calendar.exceptions(master["id"])
    live = {}
    if is_master(master) and not is_cancelled(master):
        for occurrence in calendar.series(master).occurrences(include_excluded=True):
            live[occurrence.suffix] = occurrence
    items = []
    for suffix in sorted(set(known) | set(live)):
        if suffix in exceptions:
            items.append(_render(exceptions[suffix]))
        elif suffix in live:
            items.append(_render(calendar.instance(master, live[suffix])))
        else:
            items.append(_cancelled_instance(master, suffix, known[suffix]))
    return items


def _cancelled_instance(master: Event, suffix: str, original: dict[str, Any]) -> Event:
    return {
        "kind": "calendar#event",
        "etag": master["etag"],
        "id": f"{master['id']}_{suffix}",
        "recurringEventId": master["id"],
        "originalStartTime": copy.deepcopy(original),
        "status": "cancelled",
    }


def full_items(calendar: Calendar, query: ListQuery) -> list[Event]:
    """The live events (and, when asked, the cancelled ones) matching the filters."""
    show_deleted = bool(query.show_deleted) or query.updated_min is not None
    if query.single_events:
        candidates = _expanded(calendar, query, show_deleted)
    else:
        candidates = [
            e
            for e in calendar.events.values()
            if not is_cancelled(e) or show_deleted or _cancelled_exception_of_live(calendar, e)
        ]
    items = [e for e in candidates if _matches(calendar, e, query)]
    if query.order_by == "updated":
        items.sort(key=lambda e: e["updated"])
    elif query.single_events:
        items.sort(key=lambda e: _start(calendar, e) or datetime.min.replace(tzinfo=UTC))
    return [_render(e) for e in items]


def instance_items(calendar: Calendar, master: Event, query: ListQuery) -> list[Event]:
    """events.instances: the instances of one series within the window."""
    if not is_master(master):
        return []
    show_deleted = bool(query.show_deleted)
    items = _instances(calendar, master, query, show_deleted)
    return [_render(e) for e in items if not is_cancelled(e) or show_deleted]


def _expanded(calendar: Calendar, query: ListQuery, show_deleted: bool) -> list[Event]:
    items: list[Event] = []
    for event in calendar.events.values():
        if event.get("recurringEventId") in calendar.events:
            continue  # an exception comes with its series
        if is_master(event):
            items.extend(_instances(calendar, event, query, show_deleted))
        elif not is_cancelled(event) or show_deleted:
            items.append(event)
    return items


def _instances(
    calendar: Calendar, master: Event, query: ListQuery, show_deleted: bool
) -> list[Event]:
    if is_cancelled(master) and not show_deleted:
        return []
    exceptions = calendar.exceptions(master["id"])
    items = []
    occurrences = calendar.series(master).occurrences(
        query.time_min, query.time_max, include_excluded=show_deleted, limit=MAX_INSTANCES
    )
    for occurrence in occurrences:
        instance = exceptions.get(occurrence.suffix) or calendar.instance(master, occurrence)
        if is_cancelled(master):
            instance = {**instance, "status": "cancelled"}
        if not is_cancelled(instance) or show_deleted:
            items.append(instance)
    return items


def _cancelled_exception_of_live(calendar: Calendar, event: Event) -> bool:
    master = calendar.events.get(event.get("recurringEventId", ""))
    return master is not None and not is_cancelled(master)


def _matches(calendar: Calendar, event: Event, query: ListQuery) -> bool:
    if query.ical_uid is not None and event.get("iCalUID") != query.ical_uid:
        return False
    updated = datetime.fromisoformat(event["updated"])
    if query.updated_min is not None and updated < query.updated_min:
        return False
    if query.q is not None and query.q.lower() not in _searchable(event):
        return False
    properties = event.get("extendedProperties", {})
    for scope, wanted in (("private", query.private), ("shared", query.shared)):
        if any(properties.get(scope, {}).get(k) != v for k, v in wanted):
            return False
    return _in_window(calendar, event, query)


def _searchable(event: Event) -> str:
    words = [event.get(k, "") for k in ("summary", "description", "location")]
    for attendee in event.get("attendees", []):
        words += [attendee.get("email", ""), attendee.get("displayName", "")]
    return " ".join(str(w) for w in words).lower()


def _in_window(calendar: Calendar, event: Event, query: ListQuery) -> bool:
    """Google: timeMin bounds an event's end, timeMax its start (both exclusive)."""
    if query.time_min is None and query.time_max is None:
        return True
    if is_master(event) and not query.single_events:
        return bool(calendar.series(event).occurrences(query.time_min, query.time_max, limit=1))
    start, end = _start(calendar, event), _end(calendar, event)
    if start is None or end is None:
        return True
    if query.time_max is not None and start >= query.time_max:
        return False
    return not (query.time_min is not None and end <= query.time_min)


def _start(calendar: Calendar, event: Event) -> datetime | None:
    moment = event_time_or_none(event.get("start") or event.get("originalStartTime"), calendar.zone)
    return moment.instant(calendar.zone) if moment else None


def _end(calendar: Calendar, event: Event) -> datetime | None:
    moment = event_time_or_none(event.get("end"), calendar.zone)
    return moment.instant(calendar.zone) if moment else None


def _render(event: Event) -> Event:
    return tombstone(event) if is_cancelled(event) else copy.deepcopy(event)
