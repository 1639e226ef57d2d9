"""Expanding recurrence rules at a bounded cost: `rule_problem(rule)`,
`refusal(rules, start, window)` and `instances(events, item_zone, span, label, budget)`.

Anyone who can invite a room can send an RRULE (RFC 5545 §3.3.10), and a short rule can
be very costly to expand: `FREQ=YEARLY` with full BYMONTH, BYMONTHDAY, BYHOUR, BYMINUTE
and BYSECOND lists names 32 million instants a year, `FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=31`
names none and dateutil walks day by day up to the year 9999 looking for one. Two guards:

- before expanding, the instances a rule can produce within the window are estimated from
  the rule alone (frequency, interval, COUNT/UNTIL, the sizes of the BY* lists, each
  either multiplying the instances of a period or filtering them, summed over the
  event's RRULE lines), and rules over the cap are refused; so is a rule naming more
  than the cap in one period (a year of a YEARLY rule): dateutil makes all of a
  period's instants before DTSTART too, so COUNT=1 does not make such a rule cheap;
- the expansion itself runs on a step budget (`recurrence_budget`), one per calendar
  object that all its RRULE lines and overrides share: every day dateutil examines,
  every time of day it combines with a day (`len(timeset)` per day that passes the
  filters), every period it passes over and every override costs a step, and a walk
  that spends the budget stops. That is what catches a rule whose filters rarely or
  never match.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import recurring_ical_events
from icalendar import Calendar, Event
from icalendar.prop import vDDDTypes

from calsync.domain.entries import Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.recurrence_budget import (
    RecurrenceTooCostly,
    StepBudget,
    budgeted_query,
)
from calsync.providers.ical.timezones import with_zoned_times

#: Occurrences of one calendar object within the synchronization window.
MAX_OCCURRENCES = 5_000

_DAYS_PER = {
    "YEARLY": 365.25,
    "MONTHLY": 30.44,
    "WEEKLY": 7.0,
    "DAILY": 1.0,
    "HOURLY": 1 / 24,
    "MINUTELY": 1 / 1440,
    "SECONDLY": 1 / 86400,
}
#: How many values a BY* part can take: a part that filters keeps `len(list) / range`.
_RANGE = {
    "BYMONTH": 12,
    "BYWEEKNO": 52.18,
    "BYYEARDAY": 365.25,
    "BYMONTHDAY": 30.44,
    "BYDAY": 7,
    "BYHOUR": 24,
    "BYMINUTE": 60,
    "BYSECOND": 60,
}
_ORDER = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]


# Dates and floating values are compared by rie in ways that differ from ours by up to
# a day; ask for a wider span and let the reader keep what overlaps the window exactly.
_SPAN_MARGIN = timedelta(days=2)


# The estimate ---------------------------------------------------------------------------


def estimated_instances(rule: Any, start: datetime, window: Window) -> float:
    """About how many instances `rule`, starting at `start`, has within `window`.

    An estimate from the rule's text, never an expansion: a BY* part finer than the
    frequency multiplies the instances of each period by its size; one at or above it
    keeps the share of the period it names (RFC 5545 §3.3.10's table).
    """
    frequency = str(_first(rule, "FREQ", "DAILY")).upper()
    if frequency not in _DAYS_PER:
        return 0.0  # not a rule at all: reading it fails on its own
    interval = max(1, int(_first(rule, "INTERVAL", 1)))
    until = _first(rule, "UNTIL", None)
    span_end = min(window.end, _as_instant(until, start)) if until is not None else window.end
    span_start = max(window.start, start)
    if span_end <= span_start:
        return 0.0
    days = (span_end - span_start) / timedelta(days=1)
    periods = days / (_DAYS_PER[frequency] * interval) + 1
    found = periods * _per_period(rule, frequency)
    count = _first(rule, "COUNT", None)
    return float(min(found, int(count))) if count is not None else found


def _per_period(rule: Any, frequency: str) -> float:
    level = _ORDER.index(frequency)
    sizes = {name: len(rule.get(name, [])) for name in _RANGE}
    names_days = sizes["BYMONTHDAY"] or sizes["BYYEARDAY"]
    share = 1.0
    for name, size in sizes.items():
        expands = _ORDER.index(_LEVEL[name]) < level and not (name == "BYDAY" and names_days)
        if size:
            share *= size if expands else size / _RANGE[name]
    if frequency in ("YEARLY", "MONTHLY"):
        share *= _plain_weekdays_per_day_set(rule, frequency, sizes)
    if frequency == "YEARLY" and sizes["BYMONTHDAY"] and not sizes["BYMONTH"]:
        share *= 12  # those days of every month
    positions = len(rule.get("BYSETPOS", []))
    return min(share, positions) if positions else share


# The period a BY* part selects within: parts finer than the frequency expand it.
_LEVEL = {
    "BYMONTH": "MONTHLY",
    "BYWEEKNO": "WEEKLY",
    "BYYEARDAY": "DAILY",
    "BYMONTHDAY": "DAILY",
    "BYDAY": "DAILY",
    "BYHOUR": "HOURLY",
    "BYMINUTE": "MINUTELY",
    "BYSECOND": "SECONDLY",
}


def _plain_weekdays_per_day_set(rule: Any, frequency: str, sizes: dict[str, int]) -> float:
    """A weekday without ordinal in a monthly or yearly rule names every such day of the
    month (about 4.35) or year (about 52) when no other part names days."""
    if sizes["BYDAY"] == 0 or sizes["BYMONTHDAY"] or sizes["BYYEARDAY"]:
        return 1.0
    plain = sum(1 for day in rule.get("BYDAY", []) if str(day).isalpha())
    if not plain:
        return 1.0
    weeks = 52.18 if frequency == "YEARLY" and not sizes["BYMONTH"] else 4.35
    if sizes["BYWEEKNO"]:
        weeks = 1.0
    return (plain * weeks + (sizes["BYDAY"] - plain)) / sizes["BYDAY"]


def _first(rule: Any, name: str, default: Any) -> Any:
    values = rule.get(name)
    return values[0] if values else default


def _as_instant(value: date | datetime, like: datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=like.tzinfo)
    return value if value.tzinfo is not None else value.replace(tzinfo=like.tzinfo)


# RFC 5545 §3.3.10: the values each BY* part may take (BYDAY: its ordinal).
_BOUNDS = {
    "BYSECOND": (0, 60),
    "BYMINUTE": (0, 59),
    "BYHOUR": (0, 23),
    "BYMONTHDAY": (-31, 31),
    "BYYEARDAY": (-366, 366),
    "BYWEEKNO": (-53, 53),
    "BYMONTH": (1, 12),
    "BYSETPOS": (-366, 366),
}


def rule_problem(rule: Any) -> str | None:
    """What makes `rule` no rule at all (RFC 5545 §3.3.10), or None."""
    text = rule_text(rule)
    if not rule.get("FREQ"):
        return f"RRULE {text or '(empty)'} has no FREQ"
    if rule.get("UNTIL") and rule.get("COUNT"):
        return f"RRULE {text} has both UNTIL and COUNT (one or the other)"
    for name in ("INTERVAL", "COUNT"):
        value = _first(rule, name, 1)
        if not isinstance(value, int) or value < 1:
            return f"RRULE {text}: {name} must be a positive number"
    for name, (low, high) in _BOUNDS.items():
        for value in rule.get(name, []):
            zero_allowed = low == 0
            if (
                not isinstance(value, int)
                or not low <= value <= high
                or (value == 0 and not zero_allowed)
            ):
                return f"RRULE {text}: {name}={value} is outside {low}..{high}"
    for day in rule.get("BYDAY", []):
        ordinal = str(day)[:-2].lstrip("+-")
        if ordinal and not (ordinal.isdigit() and 1 <= int(ordinal) <= 53):
            return f"RRULE {text}: BYDAY={day} is outside -53..53"
    return None


def instants_per_period(rule: Any) -> float:
    """About how many instants one period of `rule` names (one year of a YEARLY rule).

    dateutil makes every one of them in the period holding DTSTART, those before DTSTART
    too, before COUNT or UNTIL can stop it: what a walk costs at least, whatever COUNT says.
    """
    frequency = str(_first(rule, "FREQ", "DAILY")).upper()
    return _per_period(rule, frequency) if frequency in _DAYS_PER else 0.0


_PERIOD_NAMES = {
    "YEARLY": "year",
    "MONTHLY": "month",
    "WEEKLY": "week",
    "DAILY": "day",
    "HOURLY": "hour",
    "MINUTELY": "minute",
    "SECONDLY": "second",
}


def refusal(rules: Sequence[Any], start: datetime, window: Window) -> str | None:
    """Why the RRULEs of one event are not expanded, or None when their estimate is
    within the cap: the instances of all of them together, and, for each, the instants
    of one period."""
    estimate = sum(estimated_instances(rule, start, window) for rule in rules)
    if estimate > MAX_OCCURRENCES:
        texts = " and ".join(rule_text(rule) for rule in rules)
        together = " together" if len(rules) > 1 else ""
        return (
            f"RRULE {texts} would produce{together} about {math.ceil(estimate):,} occurrences"
            f" in the synchronization window, over the limit of {MAX_OCCURRENCES}"
        )
    for rule in rules:
        per_period = instants_per_period(rule)
        if per_period > MAX_OCCURRENCES:
            period = _PERIOD_NAMES.get(str(_first(rule, "FREQ", "")).upper(), "period")
            return (
                f"RRULE {rule_text(rule)} names about {math.ceil(per_period):,} instants"
                f" in each {period}, over the limit of {MAX_OCCURRENCES}: dateutil makes"
                " those before DTSTART too, whatever COUNT says"
            )
    return None


def rule_text(rule: Any) -> str:
    """The rule as written, a long BY* list shown by its size."""
    parts = str(rule.to_ical().decode(errors="replace")).split(";")
    return ";".join(_shortened(part) for part in parts)


def _shortened(part: str) -> str:
    name, _, values = part.partition("=")
    count = values.count(",") + 1
    return f"{name}=<{count} values>" if count > 6 else part[:60]


# Expanding ----------------------------------------------------------------------------


def instances(
    events: Sequence[Event], item_zone: tzinfo, window: Window, label: str, budget: StepBudget
) -> Iterator[Any]:
    """rie's occurrences (start, end, recurrence_ids) of a series, on a step budget.

    `events`: the master first, then its overrides; a THISANDFUTURE range is left to the
    caller. Every time is given a zone first so that rie compares instants. `budget` is
    the calendar object's: every RRULE line and every override spends from it, so that
    an object cannot multiply its cost by repeating cheap-looking parts.
    """
    calendar = Calendar()
    try:
        for event in events:
            budget.spend(1)
            calendar.add_component(_without_range(with_zoned_times(event, item_zone)))
        query = budgeted_query(calendar, budget)
        for series in query.series:
            yield from series.between(window.start - _SPAN_MARGIN, window.end + _SPAN_MARGIN)
    except RecurrenceTooCostly as error:
        rules = ", ".join(rule_text(rule) for rule in rules_of(events[0]))
        raise InvalidCalendarData(
            f"{label}: expanding RRULE {rules or '(none)'} {error}"
            " before reaching the end of the window: it names too many instants, or its"
            " filters rarely or never match"
        ) from error
    except (
        recurring_ical_events.InvalidCalendar,
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
    ) as error:
        raise InvalidCalendarData(f"{label}: cannot expand: {error}") from error


def _without_range(event: Event) -> Event:
    prop = event.get("RECURRENCE-ID")
    if prop is None or "RANGE" not in prop.params:
        return event
    plain = vDDDTypes(prop.dt)
    for key, value in prop.params.items():
        if key != "RANGE":
            plain.params[key] = value
    copy = event.copy()
    copy["RECURRENCE-ID"] = plain
    return copy


def rules_of(event: Event) -> list[Any]:
    """The RRULE values of an event (RFC 5545 lets one appear more than once)."""
    value = event.get("RRULE")
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
