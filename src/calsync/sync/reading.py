"""`ObjectReader`: reads calendar items' payloads into calendar objects, in parallel when many.

Reading iCalendar is the costliest step of a large synchronization (icalendar parses
every content line in Python). A full listing of thousands of entries is read by a pool
of processes, one per CPU; a handful of changes is read in this process. Either way each
payload yields its `CalendarObject` or the `InvalidCalendarData` that explains it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from types import TracebackType

from calsync.domain.calendar_objects import read_calendar_object
from calsync.domain.entries import CalendarObject, Window
from calsync.errors import InvalidCalendarData

#: Below this many payloads a pool costs more than it saves.
PARALLEL_FROM = 200

Read = CalendarObject | InvalidCalendarData


def read_one(payload: str, zone: str, window: Window) -> Read:
    try:
        return read_calendar_object(payload.encode(), zone, window)
    except InvalidCalendarData as error:
        return error


def _read_chunk(payloads: Sequence[str], zone: str, window: Window) -> list[Read]:
    return [read_one(payload, zone, window) for payload in payloads]


class ObjectReader:
    """Reads payloads of one item (`zone`, `window`); `with` it to release the pool."""

    def __init__(self, zone: str, window: Window, expected: int) -> None:
        self.zone, self.window = zone, window
        workers = min(os.cpu_count() or 1, 4)
        self._pool: Executor | None = None
        if expected >= PARALLEL_FROM and workers > 1:
            self._pool = ProcessPoolExecutor(workers, mp_context=get_context("forkserver"))
            self._workers = workers

    def read(self, payloads: Sequence[str]) -> list[Read]:
        if self._pool is None or len(payloads) < PARALLEL_FROM:
            return _read_chunk(payloads, self.zone, self.window)
        size = -(-len(payloads) // (self._workers * 2))
        chunks = [payloads[start : start + size] for start in range(0, len(payloads), size)]
        futures = [self._pool.submit(_read_chunk, c, self.zone, self.window) for c in chunks]
        return [read for future in futures for read in future.result()]

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
