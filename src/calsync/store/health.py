"""Synchronization health: the counts the admin dashboard shows, after the reference
product's dashboard of that name (events today, calendar items today, events not yet
processed, events in error in the last 24 hours; calendar items by type; errors over 30
days, refused by the provider or never sent; calendar items and processed events per day
over 7 days; the events in error) and, per item, when its delta key was issued.

Each count is a range of one index (migration 0006), never a scan of the log: events by
`created_at`, events by (`state`, `updated_at`) (an event's `updated_at` is when it
ended), calendar items by (`created_at`, `kind`). A series by day is one such range per
day, all days in one statement (`UNION ALL`). Days are UTC days.

The figures of the closed days (the days before today) change rarely, today's all the
time: `health` counts today's at each call and takes the closed days' (`History`) from a
`HistoryCache`, which one process keeps for a few minutes (`LIFETIME`) and reads again
once they have passed (after answering, up to `STALE_LIMIT`) or the day has turned. A
past day's figure can still change (an old event in error reprocessed ends today;
retention purges old rows): the cache is short-lived for that, and an action of the same
process may drop it. The page says when the closed days were read
(`Health.history_as_of`).

An event in error was *refused by the provider* when its last error is one of the
provider errors (`calsync.store.overview.PROVIDER_ERRORS`: the provider answered, or would
not be reached); any other error (bad data, a configuration that cannot be used) means it
was *never sent*. The cause is told apart in SQL, from the start of the error's text.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from calsync.domain.events import EventState
from calsync.store.overview import PROVIDER_ERRORS
from calsync.store.tables import CalendarItemRow, EventRow, ItemRow, SynchronizationRow

_WAITING = (EventState.new.value, EventState.processing.value)
_ERROR = EventState.error.value
_PROCESSED = EventState.processed.value
REFUSED = "refused by the provider"
UNSENT = "never sent"
#: The days of the long charts (by type, by cause, errors per day) and of the short ones.
MONTH, WEEK = 30, 7
#: A statement of one day's figures (any columns).
_DaySelect = Select[*tuple[Any, ...]]
#: How long one process serves the closed days' figures before reading them again...
LIFETIME = timedelta(minutes=5)
#: ...and how long it serves them while they are read again after answering.
STALE_LIMIT = timedelta(hours=1)


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
class History:
    """The figures of the closed days before `today` (MONTH - 1 of them, oldest first),
    as read at `read_at`."""

    today: datetime
    read_at: datetime
    #: Calendar items made each day, by type.
    calendar_items_by_kind: list[dict[str, int]]
    #: Events that ended processed each day, over the last WEEK - 1 days alone.
    events_processed: list[int]
    errors: list[ErrorDay]

    def serves(self, now: datetime, lifetime: timedelta) -> bool:
        """Whether these figures may stand for the closed days at `now`: the same day's,
        read less than `lifetime` before (or after: a request that took its `now` before
        a refresh, or a clock set back within the day, gets the fresher figures)."""
        return start_of_day(now) == self.today and now < self.read_at + lifetime


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
    #: When the closed days' figures were read, if before `now` (kept by a HistoryCache);
    #: today's are always read at `now`.
    history_as_of: datetime | None = None


class HistoryCache:
    """The closed days' figures, kept by one process. Younger than `lifetime` they are
    served as they are; older, up to `stale_limit`, they are still served, and `due` says
    to read them again once the answer is sent (`refresh`), so that no reader waits for
    them; older still, or once the day has turned, they are read before answering. `drop`
    forgets them (after an action of this process that changes a past day, such as a
    reprocess). Threads share it: while one reads, the others wait for its figures, or
    serve the kept ones if they may."""

    def __init__(
        self, lifetime: timedelta = LIFETIME, stale_limit: timedelta = STALE_LIMIT
    ) -> None:
        self.lifetime = lifetime
        self.stale_limit = max(lifetime, stale_limit)
        self._kept: History | None = None
        self._lock = threading.Lock()

    def history(self, session: Session, now: datetime) -> History:
        kept = self._kept
        if kept is not None and kept.serves(now, self.stale_limit):
            return kept
        with self._lock:
            kept = self._kept
            if kept is None or not kept.serves(now, self.stale_limit):
                kept = self._kept = read_history(session, now)
            return kept

    def due(self, now: datetime) -> bool:
        """Whether the figures kept should be read again (`refresh`)."""
        kept = self._kept
        return kept is None or not kept.serves(now, self.lifetime)

    def refresh(self, session: Session, now: datetime) -> None:
        """Read the figures again, unless another thread has just done so."""
        with self._lock:
            if self.due(now):
                self._kept = read_history(session, now)

    def drop(self) -> None:
        """Forget the figures; a read under way when this is called is forgotten too."""
        with self._lock:
            self._kept = None


def health(session: Session, now: datetime, cache: HistoryCache | None = None) -> Health:
    """The dashboard's figures at `now`: today's counted now, the closed days' from
    `cache` (read now without one)."""
    past = cache.history(session, now) if cache else read_history(session, now)
    today = start_of_day(now)
    kinds_today = _calendar_items_by_kind(session, [today])[0]
    [errors_today] = _errors_per_day(session, [today])
    [processed_today] = _events_processed(session, [today])
    by_kind: Counter[str] = Counter(kinds_today)
    for day in past.calendar_items_by_kind:
        by_kind.update(day)
    errors = [*past.errors, errors_today]
    week = _days(today, WEEK)
    items_per_day = [sum(kinds.values()) for kinds in past.calendar_items_by_kind[-WEEK + 1 :]]
    return Health(
        now=now,
        events_today=_count(session, EventRow, EventRow.created_at >= today),
        calendar_items_today=sum(kinds_today.values()),
        events_waiting=_count(session, EventRow, EventRow.state.in_(_WAITING)),
        errors_last_day=_count(
            session,
            EventRow,
            EventRow.state == _ERROR,
            EventRow.updated_at >= now - timedelta(days=1),
        ),
        calendar_items_by_kind={kind: count for kind, count in by_kind.items() if count},
        errors_by_cause={
            REFUSED: sum(day.refused for day in errors),
            UNSENT: sum(day.unsent for day in errors),
        },
        errors_per_day=errors,
        calendar_items_per_day=_day_counts(week, [*items_per_day, sum(kinds_today.values())]),
        events_processed_per_day=_day_counts(week, [*past.events_processed, processed_today]),
        history_as_of=past.read_at if past.read_at != now else None,
    )


def read_history(session: Session, now: datetime) -> History:
    """The closed days' figures, read now: three statements, each one range of an index
    per day."""
    today = start_of_day(now)
    closed = _days(today, MONTH)[:-1]
    return History(
        today=today,
        read_at=now,
        calendar_items_by_kind=_calendar_items_by_kind(session, closed),
        events_processed=_events_processed(session, closed[-WEEK + 1 :]),
        errors=_errors_per_day(session, closed),
    )


def recent_errors(session: Session, now: datetime, limit: int = 20) -> list[EventRow]:
    """The events that ended in error over the last 30 days, newest first."""
    since = start_of_day(now) - timedelta(days=MONTH - 1)
    return list(
        session.scalars(
            select(EventRow)
            .where(EventRow.state == _ERROR, EventRow.updated_at >= since)
            .order_by(EventRow.updated_at.desc(), EventRow.id.desc())
            .limit(limit)
        )
    )


def delta_keys_issued_at(session: Session, item_ids: Collection[int]) -> dict[int, datetime]:
    """When each item's current delta key was issued, for the items that have one: the end
    of the newest synchronization that moved to it (one step back along the item's
    synchronizations, newest first), all items in one statement."""
    if not item_ids:
        return {}
    moved_to_it = (
        select(SynchronizationRow.finished_at)
        .where(
            SynchronizationRow.item_id == ItemRow.id,
            SynchronizationRow.delta_key_after == ItemRow.delta_key,
            or_(
                SynchronizationRow.delta_key_before.is_(None),
                SynchronizationRow.delta_key_before != ItemRow.delta_key,
            ),
        )
        .order_by(SynchronizationRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(ItemRow.id, moved_to_it).where(
            ItemRow.id.in_(sorted(set(item_ids))), ItemRow.delta_key.is_not(None)
        )
    )
    return {item_id: issued for item_id, issued in rows if issued is not None}


def start_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(), tzinfo=moment.tzinfo)


def _days(today: datetime, count: int) -> list[datetime]:
    """The starts of the last `count` days, today last."""
    return [today - timedelta(days=back) for back in range(count - 1, -1, -1)]


def _day_counts(days: Sequence[datetime], counts: Sequence[int]) -> list[DayCount]:
    return [DayCount(start.date(), count) for start, count in zip(days, counts, strict=True)]


def _count(session: Session, table: type, *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


#: One day's part of a series: (its number, the start of the day, the start of the next).
_DayPart = Callable[
    [ColumnElement[int], ColumnElement[datetime], ColumnElement[datetime]], _DaySelect
]


def _by_day(session: Session, days: Sequence[datetime], part: _DayPart) -> list[tuple[Any, ...]]:
    """The rows of `part` for each day, in one statement: each day a range of its own (no
    expression per row names the day), its number first."""
    bounds = {}
    for index, start in enumerate(days):
        bounds[f"start_{index}"], bounds[f"end_{index}"] = start, start + timedelta(days=1)
    return [tuple(row) for row in session.execute(_series(part, len(days)), bounds)]


@functools.cache
def _series(part: _DayPart, count: int) -> Executable:
    """The statement of `count` days of `part`, built once: the days are its parameters."""
    parts = [
        part(literal_column(str(index)), bindparam(f"start_{index}"), bindparam(f"end_{index}"))
        for index in range(count)
    ]
    return parts[0] if count == 1 else union_all(*parts)


def _calendar_items_by_kind(session: Session, days: Sequence[datetime]) -> list[dict[str, int]]:
    counted: list[dict[str, int]] = [{} for _ in days]
    for index, kind, count in _by_day(session, days, _calendar_items_of_day):
        counted[index][kind] = int(count)
    return counted


def _calendar_items_of_day(
    index: ColumnElement[int], start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> _DaySelect:
    made = CalendarItemRow.created_at
    return (
        select(index, CalendarItemRow.kind, func.count())
        .where(made >= start, made < end)
        .group_by(CalendarItemRow.kind)
    )


def _events_processed(session: Session, days: Sequence[datetime]) -> list[int]:
    counted = [0] * len(days)
    for index, count in _by_day(session, days, _processed_of_day):
        counted[index] = int(count)
    return counted


def _processed_of_day(
    index: ColumnElement[int], start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> _DaySelect:
    ended = EventRow.updated_at
    return select(index, func.count()).where(
        EventRow.state == _PROCESSED, ended >= start, ended < end
    )


def _errors_per_day(session: Session, days: Sequence[datetime]) -> list[ErrorDay]:
    """The events that ended in error each day, by cause, counted in SQL. The cause is in
    the error's text, which no index holds: the rows in error of each day are visited,
    none is sent here."""
    counted = {
        index: (total, refused) for index, total, refused in _by_day(session, days, _errors_of_day)
    }
    shown = []
    for index, start in enumerate(days):
        total, refused = counted.get(index, (0, 0))
        shown.append(ErrorDay(start.date(), refused, total - refused))
    return shown


def _errors_of_day(
    index: ColumnElement[int], start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> _DaySelect:
    ended = EventRow.updated_at
    return select(index, func.count(), func.count(case((_refused(), 1)))).where(
        EventRow.state == _ERROR, ended >= start, ended < end
    )


def _refused() -> ColumnElement[bool]:
    """The event's error is a provider error's: its text starts with `<name>:` (as
    `str.partition` would read it; exact and case-sensitive on both databases)."""
    return or_(
        *(func.substr(EventRow.error, 1, len(name) + 1) == f"{name}:" for name in PROVIDER_ERRORS)
    )
