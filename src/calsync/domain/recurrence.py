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
- the expansion itself runs on a step budget, one per calendar object that all its RRULE
  lines and overrides share: every day dateutil examines, every time of day it combines
  with a day (`len(timeset)` per day that passes the filters), every period it passes
  over, every instance it produces and every override costs a step, and a walk that
  spends the budget stops. That is what catches a rule whose filters rarely or never
  match. dateutil's own walk is used, run over calendar tables that count what it visits.

The budget counts steps, not seconds, so that reading stays a pure function of its input.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import recurring_ical_events
from dateutil import rrule as dateutil_rrule
from icalendar import Calendar, Event
from icalendar.prop import vDDDTypes
from recurring_ical_events.errors import BadRuleStringFormat
from recurring_ical_events.selection.name import ComponentsWithName

from calsync.domain.entries import Window
from calsync.domain.timezones import with_zoned_times
from calsync.errors import InvalidCalendarData

#: Occurrences of one calendar object within the synchronization window.
MAX_OCCURRENCES = 5_000
#: Days examined, times of day tried, periods passed over, instances produced and
#: overrides applied while expanding one calendar object: at most about half a second
#: of dateutil's work. A yearly rule from 1601 (as Windows time zones start) takes
#: 160,000, a daily one from 1970 70,000 (41,000 days, 29,000 weekdays at one time).
MAX_STEPS = 250_000

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


class RecurrenceTooCostly(Exception):
    """An expansion spent its step budget; the reader turns it into InvalidCalendarData."""


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


# The budget -----------------------------------------------------------------------------


class StepBudget:
    """Steps left for one calendar object's expansion."""

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.steps = steps
        self.left = steps

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise RecurrenceTooCostly(
                f"stopped after {self.steps:,} steps (days examined, times of day tried,"
                " periods passed over, overrides applied)"
            )


class _CountingIterInfo(dateutil_rrule._iterinfo):
    """dateutil's per-walk calendar tables, handing out the sets of days the walk visits.

    Each visit costs one step per day examined; a rule of hours, minutes or seconds also
    pays one step per period it passed over since the last visit, which is how far its
    inner loop went looking for an allowed hour, minute or second.
    """

    def __init__(self, rule: Any) -> None:
        super().__init__(rule)
        start = rule._dtstart
        self._clock = (start.hour, start.minute, start.second)
        self._at = _second_of(start.toordinal(), self._clock)

    def ydayset(self, year: int, month: int, day: int) -> Any:
        return self._spent(super().ydayset(year, month, day))

    def mdayset(self, year: int, month: int, day: int) -> Any:
        return self._spent(super().mdayset(year, month, day))

    def wdayset(self, year: int, month: int, day: int) -> Any:
        return self._spent(super().wdayset(year, month, day))

    def ddayset(self, year: int, month: int, day: int) -> Any:
        rule: Any = self.rrule
        period = _SECONDS_PER.get(rule._freq)
        if period is not None:
            at = _second_of(date(year, month, day).toordinal(), self._clock)
            rule.budget.spend((at - self._at) // (period * rule._interval))
            self._at = at
        return self._spent(super().ddayset(year, month, day))

    def htimeset(self, hour: int, minute: int, second: int) -> Any:
        self._clock = (hour, minute, second)
        return self._times(super().htimeset(hour, minute, second))

    def mtimeset(self, hour: int, minute: int, second: int) -> Any:
        self._clock = (hour, minute, second)
        return self._times(super().mtimeset(hour, minute, second))

    def _times(self, timeset: Sequence[Any]) -> _PaidTimes:
        rule: Any = self.rrule
        rule.budget.spend(len(timeset))  # making the period's times
        return _PaidTimes(timeset, rule.budget)

    def stimeset(self, hour: int, minute: int, second: int) -> Any:
        self._clock = (hour, minute, second)
        return super().stimeset(hour, minute, second)

    def _spent(self, dayset: Any) -> Any:
        _, first, last = dayset
        rule: Any = self.rrule
        # BYSETPOS picks from the period's days once per position it lists.
        rule.budget.spend((1 + last - first) * (1 + len(rule._bysetpos or ())))
        return dayset


class _PaidTimes(tuple):  # type: ignore[type-arg]
    """The times of day dateutil combines with each day that passes its filters.

    The walk goes through them once per such day, before it compares any of them with
    DTSTART or COUNT: a day costs as many steps as it has times (`len(timeset)`), which
    is what makes a day of full BYHOUR/BYMINUTE/BYSECOND lists 86,400 steps, not one.
    """

    budget: StepBudget

    def __new__(cls, times: Sequence[Any], budget: StepBudget) -> _PaidTimes:
        paid = super().__new__(cls, times)
        paid.budget = budget
        return paid

    def __iter__(self) -> Iterator[Any]:
        self.budget.spend(len(self))
        return super().__iter__()


_SECONDS_PER = {
    dateutil_rrule.HOURLY: 3600,
    dateutil_rrule.MINUTELY: 60,
    dateutil_rrule.SECONDLY: 1,
}


def _second_of(day: int, clock: tuple[int, int, int]) -> int:
    hour, minute, second = clock
    return day * 86400 + hour * 3600 + minute * 60 + second


# dateutil's own walk, reading its calendar tables from `_CountingIterInfo`: the same
# code, so the same instances, but every period it visits is paid for.
_original_walk: Any = getattr(dateutil_rrule.rrule, "_iter")  # noqa: B009
_counted_walk = type(_original_walk)(  # a function: its code over other globals
    _original_walk.__code__,
    {**_original_walk.__globals__, "_iterinfo": _CountingIterInfo},
    _original_walk.__name__,
    _original_walk.__defaults__,
    _original_walk.__closure__,
)


class _BudgetedRule(dateutil_rrule.rrule):
    budget: StepBudget

    def _iter(self) -> Iterator[datetime]:
        for instance in _counted_walk(self):
            self.budget.spend(1)
            yield instance


def _budgeted(rule: Any, budget: StepBudget) -> Any:
    """`rule` walking on `budget`: the same fields, a subclass that pays for its walk."""
    if type(rule) is not dateutil_rrule.rrule:
        return rule
    paying: Any = rule
    paying.__class__ = _BudgetedRule
    paying.budget = budget
    if paying._timeset is not None:  # a rule of days or longer: one set of times
        paying._timeset = _PaidTimes(paying._timeset, budget)
    paying._invalidate_cache()  # its cached walk was made before it had a budget
    return paying


def budgeted_query(calendar: Calendar, budget: StepBudget) -> Any:
    """recurring_ical_events' query over `calendar`'s VEVENTs, each rule on `budget`."""

    class Rules(recurring_ical_events.Series.RecurrenceRules):  # type: ignore[misc]
        def rrulestr(self, rule_string: str) -> Any:
            return _budgeted(super().rrulestr(rule_string), budget)

        def create_rule_with_start(self, rule_string: str) -> Any:
            try:
                return super().create_rule_with_start(rule_string)
            except BadRuleStringFormat:
                # rie retried a rule dateutil refused as one with a misplaced UNTIL, and
                # says so; what dateutil said is the reason worth reading.
                dateutil_rrule.rrulestr(rule_string, dtstart=self.start)
                raise

    class BudgetedSeries(recurring_ical_events.Series):  # type: ignore[misc]
        RecurrenceRules = Rules

    return recurring_ical_events.of(
        calendar, components=[ComponentsWithName("VEVENT", series=BudgetedSeries)]
    )


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
