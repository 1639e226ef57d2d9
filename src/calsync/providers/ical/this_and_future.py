"""Overrides with RANGE=THISANDFUTURE (RFC 5545 §3.8.4.4), read at a bounded cost.

An override with this range changes its own instance and every later one: each later
instance keeps its identity and takes the override's shift, length and properties. An
object may carry thousands of them; `Futures` finds the one governing an instance by
binary search and charges them to the object's step budget, `widened(window, futures)`
is the span to expand, and `may_show(override, span)` says which overrides the
expansion needs to see at all.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from icalendar import Event

from calsync.domain.entries import CalendarEntry, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.recurrence_budget import RecurrenceTooCostly, StepBudget


class Futures:
    """An object's THISANDFUTURE overrides in the order of their RECURRENCE-IDs, so that
    finding the one governing an instance is a binary search: thousands of overrides
    cost in proportion to their number, not to it times the number of instances."""

    def __init__(self, pairs: Iterable[tuple[CalendarEntry, Event]]) -> None:
        self.pairs = sorted(pairs, key=lambda pair: pair[0].recurrence_id or pair[0].start)
        self._starts = [entry.recurrence_id or entry.start for entry, _ in self.pairs]

    def governing(self, start: datetime) -> tuple[CalendarEntry, Event] | None:
        """The last THISANDFUTURE override before the instance originally at `start`."""
        at = bisect_left(self._starts, start)
        return self.pairs[at - 1] if at else None


def paid_budget(futures: Futures, label: str) -> StepBudget:
    """A budget for the expansion, less a step per THISANDFUTURE override (sorted once,
    looked up by each instance), whether or not the expansion sees it."""
    budget = StepBudget()
    try:
        budget.spend(len(futures.pairs))
    except RecurrenceTooCostly as error:
        raise InvalidCalendarData(f"{label}: THISANDFUTURE overrides {error}") from error
    return budget


def widened(window: Window, futures: Sequence[tuple[CalendarEntry, Event]]) -> Window:
    """The span to expand: an instance moved by an override may come from outside it,
    from before it if moved later, from after it if moved earlier (from up to a year
    away: a larger shift is not looked for)."""
    year = timedelta(days=366)
    shifts = [e.start - (e.recurrence_id or e.start) for e, _ in futures]
    later = min(max(shifts, default=timedelta(0)), year)
    earlier = min(max((-shift for shift in shifts), default=timedelta(0)), year)
    return Window(window.start - max(later, timedelta(0)), window.end + max(earlier, timedelta(0)))


def may_show(override: CalendarEntry, span: Window) -> bool:
    """Whether an override can change what the expansion of `span` yields: it replaces an
    instance within the span, or is itself within it. One that is neither is left out of
    the expansion (a THISANDFUTURE one still moves later instances, from `Futures`), so
    that thousands of far-away overrides cost no expansion work.
    """
    margin = timedelta(days=2)  # dates and floating times are compared loosely there
    wide = Window(span.start - margin, span.end + margin)
    original = override.recurrence_id or override.start
    in_span = override.start < wide.end and override.end >= wide.start
    return wide.start <= original < wide.end or in_span
