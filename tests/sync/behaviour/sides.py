"""The calendar side of the behaviour suite: a room calendar at one service, changed
behind calsync's back the way that service's users change it, and read back as it is.

`CalDAVSide` writes iCalendar to a real Radicale as an organizer's client does, calsync
reaching it through a loopback gateway that can answer for a busy service;
`GoogleSide` writes events into the Google Calendar emulator as Google does when someone
books the room. Both describe what they hold in the same words: per UID (and original
start, for an occurrence of a series), the span and the room's answer."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from calsync.domain.entries import Window
from calsync.providers.caldav import CalDAVProvider
from calsync.providers.ical.reader import read_calendar_object
from tests.providers.gateway import Gateway
from tests.sync.calendars import ics, vevent

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))

#: (uid, original start or None) -> (start, end, the room's answer)
Held = dict[tuple[str, datetime | None], tuple[datetime, datetime, str]]


def berlin(day: int, hour: int) -> datetime:
    """A time in December 2026, Berlin wall time, as a UTC instant."""
    return datetime(2026, 12, day, hour, tzinfo=BERLIN).astimezone(UTC)


class CalendarSide(Protocol):
    kind: str
    room: str

    def connection(self, folder: Path) -> dict[str, Any]: ...
    def binding(self) -> dict[str, Any]: ...
    def meeting(self, uid: str, day: int, hour: int, count: int | None = None) -> None: ...
    def move(self, uid: str, day: int, hour: int) -> None: ...
    def delete(self, uid: str) -> None: ...
    def cancel_occurrence(self, uid: str, original: datetime) -> None: ...
    def expire_delta_keys(self) -> None: ...
    def held(self) -> Held: ...
    def throttle_next(self, count: int, status: int, retry_after: int) -> None:
        """calsync's next `count` requests are refused as a busy service refuses them."""
        ...

    def room_declines_everything(self) -> None:
        """The room answers calsync's bookings itself, declining each (only where the
        service's room decides: `Capabilities.room_decides`)."""
        ...


@dataclass
class CalDAVSide:
    """An organizer's CalDAV client writing into the room's collection on Radicale;
    calsync reaches Radicale through `gateway` (tests/providers/gateway.py)."""

    url: str
    calendar: str
    gateway: Gateway
    kind: str = "caldav"
    room: str = "room-a@example.com"

    def __post_init__(self) -> None:
        self.client = CalDAVProvider(self.url, timeout=10.0)
        self.hrefs: dict[str, str] = {}
        self.texts: dict[str, str] = {}

    def connection(self, folder: Path) -> dict[str, Any]:
        return {"kind": "caldav", "url": self.gateway.url}

    def throttle_next(self, count: int, status: int, retry_after: int) -> None:
        self.gateway.throttle_next(count, status, str(retry_after))

    def room_declines_everything(self) -> None:
        raise NotImplementedError("a CalDAV room does not answer on its own")

    def binding(self) -> dict[str, Any]:
        return {"calendar": self.calendar, "room_address": self.room}

    def meeting(self, uid: str, day: int, hour: int, count: int | None = None) -> None:
        self.texts[uid] = _vevent(uid, day, hour, count)
        self.hrefs[uid] = self.client.create(self.calendar, uid, ics(self.texts[uid])).provider_id

    def move(self, uid: str, day: int, hour: int) -> None:
        moved = _vevent(uid, day, hour, None, sequence=1)
        self.client.update(self.calendar, self.hrefs[uid], ics(moved), None)

    def delete(self, uid: str) -> None:
        self.client.delete(self.calendar, self.hrefs[uid], None)

    def cancel_occurrence(self, uid: str, original: datetime) -> None:
        exdate = f"EXDATE:{original.strftime('%Y%m%dT%H%M%SZ')}\r\n"
        text = self.texts[uid].replace("END:VEVENT", exdate + "END:VEVENT")
        self.client.update(self.calendar, self.hrefs[uid], ics(text), None)

    def expire_delta_keys(self) -> None:
        raise NotImplementedError  # Radicale's tokens are tried in tests/sync on their own

    def held(self) -> Held:
        found: Held = {}
        for change in self.client.fetch_changes(self.calendar, None).changes:
            obj = read_calendar_object(change.data or b"", "Europe/Berlin", WINDOW)
            answers = {a.address: a.partstat for e in obj.entries for a in e.attendees}
            for o in obj.occurrences:
                found[o.key] = (o.start, o.end, answers.get(self.room, ""))
        return found


@dataclass
class GoogleSide:
    """People booking the room in Google Calendar: events on the room's resource calendar
    in the emulator, as Google keeps them when the room is invited."""

    emulator: Any
    kind: str = "google"
    room: str = "room-a@resource.calendar.google.com"

    def __post_init__(self) -> None:
        self.emulator.add_calendar(self.room, time_zone="Europe/Berlin")
        self.ids: dict[str, str] = {}

    def connection(self, folder: Path) -> dict[str, Any]:
        key = folder / f"google-key-{uuid.uuid4().hex[:6]}.json"
        key.write_text(json.dumps(self.emulator.service_account_info()))
        return {
            "kind": "google",
            "subject": "admin@example.com",
            "service_account_file": str(key),
            "api_url": self.emulator.api_url,
            "page_size": 50,
        }

    def binding(self) -> dict[str, Any]:
        return {"calendar": self.room, "room_address": self.room}

    def meeting(self, uid: str, day: int, hour: int, count: int | None = None) -> None:
        body: dict[str, Any] = {
            "id": uid.replace("-", "").lower(),
            "iCalUID": uid,
            "summary": "Meeting",
            "organizer": {"email": "alice@example.com"},
            "start": _google_time(berlin(day, hour)),
            "end": _google_time(berlin(day, hour) + timedelta(hours=1)),
            "attendees": [
                {"email": "alice@example.com", "organizer": True, "responseStatus": "accepted"},
                {"email": self.room, "resource": True, "responseStatus": "needsAction"},
            ],
        }
        if count is not None:
            body["recurrence"] = [f"RRULE:FREQ=DAILY;COUNT={count}"]
        self.ids[uid] = self.emulator.put_event(self.room, body)["id"]

    def move(self, uid: str, day: int, hour: int) -> None:
        start = berlin(day, hour)
        self.emulator.patch_event(
            self.room,
            self.ids[uid],
            {"start": _google_time(start), "end": _google_time(start + timedelta(hours=1))},
        )

    def delete(self, uid: str) -> None:
        self.emulator.delete_event(self.room, self.ids[uid])

    def cancel_occurrence(self, uid: str, original: datetime) -> None:
        self.emulator.cancel_instance(self.room, self.ids[uid], original)

    def expire_delta_keys(self) -> None:
        self.emulator.expire_sync_tokens(self.room)

    def throttle_next(self, count: int, status: int, retry_after: int) -> None:
        reason = "rateLimitExceeded" if status == 429 else "backendError"
        self.emulator.fail_next(count, status, reason, retry_after=retry_after)

    def room_declines_everything(self) -> None:
        self.emulator.room_decides(self.room, self.room, "decline_all")

    def held(self) -> Held:
        from calsync.providers.google.reader import read_event

        found: Held = {}
        provider = _google_reader(self.emulator, self.room)
        for change in provider.fetch_changes(self.room, None).changes:
            obj = read_event((change.data or b"").decode(), "Europe/Berlin", WINDOW)
            answers = {a.address: a.partstat for e in obj.entries for a in e.attendees}
            for o in obj.occurrences:
                found[o.key] = (o.start, o.end, answers.get(self.room, ""))
        return found


def _google_reader(emulator: Any, room: str) -> Any:
    from calsync.providers.google import GoogleCalendarProvider

    return GoogleCalendarProvider(
        emulator.service_account_info(), "admin@example.com", api_url=emulator.api_url
    )


def _google_time(instant: datetime) -> dict[str, str]:
    return {"dateTime": instant.astimezone(BERLIN).isoformat(), "timeZone": "Europe/Berlin"}


def _vevent(uid: str, day: int, hour: int, count: int | None, sequence: int = 0) -> str:
    start = f"202612{day:02d}T{hour:02d}0000"
    end = f"202612{day:02d}T{hour + 1:02d}0000"
    rule = f"RRULE:FREQ=DAILY;COUNT={count}\r\n" if count else ""
    return vevent(uid, start, end, extra=rule, sequence=sequence)
