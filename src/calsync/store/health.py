"""Synchronization health: the counts the admin dashboard shows, after the reference
product's dashboard of that name (events today, calendar items today, events not yet
processed, events in error in the last 24 hours; calendar items by type; errors over 30
days, refused by the provider or never sent; calendar items and processed events per day
over 7 days; the events in error) and, per item, when its delta key was issued.

Each count is a range of one index (migration 0006), never a scan of the log, so the
dashboard answers as fast with a million events as with a hundred: events by
`created_at`, events by (`state`, `updated_at`) (an event's `updated_at` is when it
ended), calendar items by (`created_at`, `kind`). A series by day is one such count per
day. Days are UTC days.

An event in error was *refused by the provider* when its last error is one of the
provider errors (`calsync.store.overview.PROVIDER_ERRORS`: the provider answered, or would
not be reached); any other error (bad data, a configuration that cannot be used) means it
was *never sent*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from calsync.domain.events import EventState
from calsync.store.overview import PROVIDER_ERRORS
from calsync.store.tables import CalendarItemRow, EventRow, SynchronizationRow

_STATES = tuple(state.value for state in EventState)
_WAITING = (EventState.new.value, EventState.processing.value)
_ERROR = EventState.error.value
_LONGEST_NAME = max(len(name) for name in PROVIDER_ERRORS)
REFUSED = "refused by the provider"
UNSENT = "never sent"


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class ErrorDay:
    day: date
    refused: int
    unsent: int


@dataclass(frozen=True)
class Health:
    """What the dashboard shows, read at `now`."""

    now: datetime
    events_today: int
    calendar_items_today: int
    events_waiting: int
    errors_last_day: int
    #: Calendar items made over the last 30 days, by type.
    calendar_items_by_kind: dict[str, int]
    #: Events that ended in error over the last 30 days, by cause (REFUSED or UNSENT).
    errors_by_cause: dict[str, int]
    errors_per_day: list[ErrorDay]
    calendar_items_per_day: list[DayCount]
    events_processed_per_day: list[DayCount]


def health(session: Session, now: datetime) -> Health:
    today = start_of_day(now)
    week, month = _days(today, 7), _days(today, 30)
    errors = _errors_per_day(session, month)
    return Health(
        now=now,
        events_today=_count(session, EventRow, EventRow.created_at >= today),
        calendar_items_today=_count(session, CalendarItemRow, CalendarItemRow.created_at >= today),
        events_waiting=_count(session, EventRow, EventRow.state.in_(_WAITING)),
        errors_last_day=_count(
            session,
            EventRow,
            EventRow.state == _ERROR,
            EventRow.updated_at >= now - timedelta(days=1),
        ),
        calendar_items_by_kind=_kinds(session, month[0]),
        errors_by_cause={
            REFUSED: sum(day.refused for day in errors),
            UNSENT: sum(day.unsent for day in errors),
        },
        errors_per_day=errors,
        calendar_items_per_day=_per_day(session, CalendarItemRow, CalendarItemRow.created_at, week),
        events_processed_per_day=_per_day(
            session,
            EventRow,
            EventRow.updated_at,
            week,
            EventRow.state == EventState.processed.value,
        ),
    )


def recent_errors(session: Session, now: datetime, limit: int = 20) -> list[EventRow]:
    """The events that ended in error over the last 30 days, newest first."""
    since = start_of_day(now) - timedelta(days=29)
    return list(
        session.scalars(
            select(EventRow)
            .where(EventRow.state == _ERROR, EventRow.updated_at >= since)
            .order_by(EventRow.updated_at.desc(), EventRow.id.desc())
            .limit(limit)
        )
    )


def delta_key_issued_at(session: Session, item_id: int, delta_key: str) -> datetime | None:
    """When the item's current delta key was issued: the end of the newest synchronization
    that moved to it (one step back along the item's synchronizations, newest first)."""
    return session.scalar(
        select(SynchronizationRow.finished_at)
        .where(
            SynchronizationRow.item_id == item_id,
            SynchronizationRow.delta_key_after == delta_key,
            or_(
                SynchronizationRow.delta_key_before.is_(None),
                SynchronizationRow.delta_key_before != delta_key,
            ),
        )
        .order_by(SynchronizationRow.id.desc())
        .limit(1)
    )


def start_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(), tzinfo=moment.tzinfo)


def _days(today: datetime, count: int) -> list[datetime]:
    """The starts of the last `count` days, today last."""
    return [today - timedelta(days=back) for back in range(count - 1, -1, -1)]


def _count(session: Session, table: type, *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _per_day(
    session: Session,
    table: type,
    column: InstrumentedAttribute[datetime],
    days: Sequence[datetime],
    *where: ColumnElement[bool],
) -> list[DayCount]:
    """How many rows have `column` within each day: one count per day, each a range of
    an index that holds `column` (and the `where` columns), read without the rows."""
    ends = [*days[1:], days[-1] + timedelta(days=1)]
    return [
        DayCount(start.date(), _count(session, table, *where, column >= start, column < end))
        for start, end in zip(days, ends, strict=True)
    ]


def _errors_per_day(session: Session, days: Sequence[datetime]) -> list[ErrorDay]:
    """The events that ended in error each day, by cause. The cause is in the error's
    text, which no index holds: the few rows in error over the days are read (only
    their time and the start of their error) and told apart here."""
    head = func.substr(EventRow.error, 1, _LONGEST_NAME + 1)
    rows = session.execute(
        select(EventRow.updated_at, head).where(
            EventRow.state == _ERROR, EventRow.updated_at >= days[0]
        )
    )
    first = days[0].date()
    refused, unsent = [0] * len(days), [0] * len(days)
    for ended, error in rows:
        index = (ended.date() - first).days
        if 0 <= index < len(days):
            kind = error.partition(":")[0] if ":" in error else ""
            (refused if kind in PROVIDER_ERRORS else unsent)[index] += 1
    return [ErrorDay(day.date(), refused[i], unsent[i]) for i, day in enumerate(days)]


def _kinds(session: Session, since: datetime) -> dict[str, int]:
    rows = session.execute(
        select(CalendarItemRow.kind, func.count())
        .where(CalendarItemRow.created_at >= since)
        .group_by(CalendarItemRow.kind)
    )
    return dict(rows.all())
