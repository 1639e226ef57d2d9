"""Times on Google's wire: RFC 3339 timestamps and an event's `start`/`end` objects.

An event time is either `{"date": "YYYY-MM-DD"}` (all-day, end exclusive) or
`{"dateTime": RFC3339, "timeZone": IANA name}`; "A time zone offset is required unless a
time zone is explicitly specified in timeZone" (events resource). The emulator answers
`dateTime` in the event's time zone (or the calendar's), as Google does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import invalid, required


def rfc3339_ms(moment: datetime) -> str:
    """`updated`/`created` form: UTC with milliseconds, e.g. 2026-03-16T08:00:00.000Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str, name: str) -> datetime:
    """A query parameter such as timeMin: RFC 3339 with a mandatory offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"Bad Request: {name} is not an RFC3339 timestamp", location=name) from None
    if moment.tzinfo is None:
        raise invalid(f"Bad Request: {name} needs a time zone offset", location=name)
    return moment


def zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"Invalid time zone definition for {field} time.") from None


@dataclass(frozen=True)
class EventTime:
    """One parsed `start`, `end` or `originalStartTime`."""

    value: datetime | date  # an aware datetime, or a date for all-day
    time_zone: str | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.value, datetime)

    def instant(self, calendar_zone: ZoneInfo) -> datetime:
        """The moment it stands for; a date is midnight in the calendar's time zone."""
        if isinstance(self.value, datetime):
            return self.value
        return datetime.combine(self.value, time(), calendar_zone)

    def to_json(self) -> dict[str, Any]:
        if not isinstance(self.value, datetime):
            return {"date": self.value.isoformat()}
        answer: dict[str, Any] = {"dateTime": self.value.isoformat(timespec="seconds")}
        if self.time_zone:
            answer["timeZone"] = self.time_zone
        return answer


def parse_event_time(raw: Any, field: str, calendar_zone: ZoneInfo) -> EventTime:
    """Validate `start`/`end` as Google does and normalise `dateTime` to its time zone."""
    if not isinstance(raw, dict) or not (raw.get("date") or raw.get("dateTime")):
        raise required(f"Missing {field} time.")
    if raw.get("date") and raw.get("dateTime"):
        raise invalid(f"Invalid {field} time: both date and dateTime are set.")
    tz_name = raw.get("timeZone")
    if tz_name is not None and not isinstance(tz_name, str):
        raise invalid(f"Invalid time zone definition for {field} time.")
    if raw.get("date"):
        try:
            return EventTime(date.fromisoformat(str(raw["date"])), tz_name)
        except ValueError:
            raise invalid(f"Invalid {field} time.") from None
    event_zone = zone(tz_name, field) if tz_name else None
    try:
        moment = datetime.fromisoformat(str(raw["dateTime"]))
    except ValueError:
        raise invalid(f"Invalid {field} time.") from None
    if moment.tzinfo is None:
        if event_zone is None:
            raise invalid(f"Missing time zone definition for {field} time.")
        moment = moment.replace(tzinfo=event_zone)
    return EventTime(moment.astimezone(event_zone or calendar_zone), tz_name)


def event_time_or_none(raw: Any, calendar_zone: ZoneInfo) -> EventTime | None:
    """A stored time, already validated; None when absent."""
    if not isinstance(raw, dict) or not (raw.get("date") or raw.get("dateTime")):
        return None
    return parse_event_time(raw, "start", calendar_zone)
