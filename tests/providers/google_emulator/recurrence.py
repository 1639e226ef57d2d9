"""A recurring event's instances, as Google expands them for `singleEvents=true`.

Google keeps one master event with `recurrence` (RRULE, EXRULE, RDATE, EXDATE lines) and
`start.timeZone` (required for timed series); the recurring events guide
(https://developers.google.com/calendar/api/guides/recurringevents) names each instance
`<masterId>_<original start>`: `_20260316T080000Z` (UTC) for timed series and
`_20260316` for all-day ones. Each instance carries `recurringEventId` and
`originalStartTime`. The expansion uses dateutil.rrule on the series' wall-clock time.

Without a window the emulator expands from the first instance to two years past now (or
past the first instance), at most `MAX_INSTANCES` instances: Google's own limits on
unbounded series are not documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from .errors import invalid
from .times import EventTime, parse_event_time, zone

MAX_INSTANCES = 1000
HORIZON = timedelta(days=730)
_INSTANCE_ID = re.compile(r"^(?P<master>.+)_(?P<suffix>\d{8}(?:T\d{6}Z)?)$")
_UNTIL = re.compile(r"UNTIL=(\d{8})(T\d{6})?(Z?)", re.IGNORECASE)


@dataclass(frozen=True)
class Occurrence:
    """One instance of a series: where it originally starts, and whether it was excluded."""

    start: datetime | date
    end: datetime | date
    time_zone: str | None
    end_time_zone: str | None
    excluded: bool = False

    @property
    def suffix(self) -> str:
        if isinstance(self.start, datetime):
            return self.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return self.start.strftime("%Y%m%d")

    def start_time(self) -> dict[str, Any]:
        """`start` of the instance, and its `originalStartTime` (the same until changed)."""
        return EventTime(self.start, self.time_zone).to_json()

    def end_time(self) -> dict[str, Any]:
        return EventTime(self.end, self.end_time_zone).to_json()


def split_instance_id(event_id: str) -> tuple[str, str] | None:
    """(master id, suffix) for an instance id such as `abc123_20260316T080000Z`."""
    match = _INSTANCE_ID.match(event_id)
    return (match["master"], match["suffix"]) if match else None


class Series:
    """A master event's recurrence, parsed once; raises GoogleError(400) if unreadable."""

    def __init__(self, master: dict[str, Any], calendar_zone: ZoneInfo) -> None:
        start = parse_event_time(master.get("start"), "start", calendar_zone)
        end = parse_event_time(master.get("end"), "end", calendar_zone)
        self.calendar_zone = calendar_zone
        self.all_day = start.all_day
        self.time_zone = start.time_zone
        self.end_time_zone = end.time_zone
        self.zone = zone(start.time_zone, "start") if start.time_zone else calendar_zone
        self.first = _rule_start(start)
        self.duration = _rule_start(end) - self.first
        self._candidates = rruleset()
        self._exdates: set[datetime] = set()
        self._exrules: list[rrule] = []
        for line in master.get("recurrence") or []:
            self._add_line(line)

    def occurrences(
        self,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        *,
        include_excluded: bool = False,
        limit: int = MAX_INSTANCES,
    ) -> list[Occurrence]:
        """Instances overlapping [window_start, window_end), in start order."""
        if window_end is None:
            first = self._aware(self.first)
            window_end = max(first, datetime.now(UTC)) + HORIZON
        found: list[Occurrence] = []
        for candidate in self._candidates:
            begins = self._aware(candidate)
            if begins >= window_end or len(found) >= limit:
                break
            if window_start is not None and begins + self.duration <= window_start:
                continue
            occurrence = self._occurrence(candidate)
            if include_excluded or not occurrence.excluded:
                found.append(occurrence)
        return found

    def find(self, suffix: str) -> Occurrence | None:
        """The occurrence an instance id names, excluded or not; None if not in the series."""
        try:
            if self.all_day:
                wanted = datetime.strptime(suffix, "%Y%m%d")
            else:
                moment = datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                wanted = moment.astimezone(self.zone)
        except ValueError:
            return None
        if wanted not in self._candidates:
            return None
        return self._occurrence(wanted)

    def _occurrence(self, candidate: datetime) -> Occurrence:
        excluded = candidate in self._exdates or any(candidate in r for r in self._exrules)
        if self.all_day:
            return Occurrence(
                candidate.date(), (candidate + self.duration).date(), None, None, excluded
            )
        end = candidate + self.duration
        end_zone = zone(self.end_time_zone, "end") if self.end_time_zone else self.zone
        return Occurrence(
            candidate, end.astimezone(end_zone), self.time_zone, self.end_time_zone, excluded
        )

    def _aware(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=self.calendar_zone)

    def _add_line(self, line: Any) -> None:
        if not isinstance(line, str) or ":" not in line:
            raise invalid("Invalid recurrence rule.")
        head, _, value = line.partition(":")
        name, *raw_params = head.split(";")
        params = dict(p.partition("=")[::2] for p in raw_params)
        name = name.upper()
        try:
            if name in ("RRULE", "EXRULE"):
                rule = rrulestr(self._fix_until(value), dtstart=self.first)
                if not isinstance(rule, rrule):
                    raise ValueError("one rule per line")
                if name == "RRULE":
                    self._candidates.rrule(rule)
                else:
                    self._exrules.append(rule)
            elif name in ("RDATE", "EXDATE"):
                for moment in self._dates(value, params):
                    if name == "RDATE":
                        self._candidates.rdate(moment)
                    else:
                        self._exdates.add(moment)
            else:
                raise ValueError(f"unknown recurrence property {name}")
        except (ValueError, TypeError, KeyError):
            raise invalid("Invalid recurrence rule.") from None

    def _dates(self, value: str, params: dict[str, str]) -> list[datetime]:
        """RDATE/EXDATE values as the rule's own kind of datetime (aware, or naive all-day)."""
        moments = []
        for text in value.split(","):
            text = text.strip()
            if len(text) == 8 or params.get("VALUE", "").upper() == "DATE":
                day = datetime.strptime(text[:8], "%Y%m%d").date()
                moment = datetime.combine(day, self.first.time(), self.first.tzinfo)
            elif text.endswith("Z"):
                moment = datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            else:
                tz = zone(params["TZID"], "start") if "TZID" in params else self.zone
                moment = datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
            if self.all_day:
                moments.append(datetime.combine(moment.date(), time()))
            else:
                moments.append(moment.astimezone(self.zone))
        return moments

    def _fix_until(self, rule: str) -> str:
        """dateutil wants UNTIL in UTC for a timed series and as a date for an all-day one."""
        match = _UNTIL.search(rule)
        if match is None:
            return rule
        day = datetime.strptime(match[1], "%Y%m%d")
        if self.all_day:
            until = match[1]
        elif match[3]:
            return rule
        else:
            clock = datetime.strptime(match[2][1:], "%H%M%S").time() if match[2] else time.max
            local = datetime.combine(day.date(), clock.replace(microsecond=0), self.zone)
            until = local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return rule[: match.start()] + f"UNTIL={until}" + rule[match.end() :]


def _rule_start(moment: EventTime) -> datetime:
    """rrule's DTSTART: aware wall-clock time for timed series, naive midnight for all-day."""
    if isinstance(moment.value, datetime):
        return moment.value
    return datetime.combine(moment.value, time())
