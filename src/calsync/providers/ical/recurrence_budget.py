"""The step budget recurrence expansion runs on: `StepBudget`, `budgeted_query(calendar,
budget)`.

dateutil's own walk is used, run over calendar tables that count what it visits: every
day it examines, every time of day it makes or combines with a day (`len(timeset)` per
day that passes the rule's filters, each instance is one of them) and every period it
passes over costs a step, and a walk that spends the budget raises
`RecurrenceTooCostly`. One budget serves a whole calendar object, all its RRULE lines
and overrides. It counts steps, not seconds, so that reading stays a pure function of
its input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import recurring_ical_events
from dateutil import rrule as dateutil_rrule
from icalendar import Calendar
from recurring_ical_events.errors import BadRuleStringFormat
from recurring_ical_events.selection.name import ComponentsWithName

#: Days examined, times of day made or tried, periods passed over and overrides given
#: while expanding one calendar object: from 0.06 to 0.35 s of CPU spent on a hostile
#: rule. A yearly rule from 1601 (as Windows time zones start) takes 158,000 steps, a
#: weekday one from 1970 57,000, one at 9:00 and 14:00 every day from 1900 187,000.
MAX_STEPS = 250_000


class RecurrenceTooCostly(Exception):
    """An expansion spent its step budget; the reader turns it into InvalidCalendarData."""


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
                " periods passed over)"
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
        # Each instance comes from a time of day already paid for with its day.
        return _counted_walk(self)  # type: ignore[no-any-return]


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
