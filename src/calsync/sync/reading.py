"""`ObjectReader`: reads calendar items' payloads into calendar objects, in parallel when many.

Reading iCalendar is the costliest step of a large synchronization (icalendar parses
every content line in Python). Large pages of changes are read by a pool of processes,
one per CPU, as soon as the provider delivers them (`prefetch`), so that reading overlaps
the provider's answers; a handful of changes is read in this process when applied, and so
is every payload of an adapter whose payloads are cheap to read (Google's JSON: sending a
page to the pool and its objects back costs more than reading it here). Either way each
payload yields its `CalendarObject` or the `InvalidCalendarData` that explains it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from types import TracebackType

from calsync.domain.entries import CalendarObject, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.base import ObjectReaderFunction, RemoteChange

#: Below this many payloads a pool costs more than it saves.
PARALLEL_FROM = 200
#: Payloads per task sent to the pool.
CHUNK = 100

Read = CalendarObject | InvalidCalendarData
#: (provider id, version, payload as stored on the calendar item)
Payload = tuple[str, str | None, str]


def read_one(read_object: ObjectReaderFunction, payload: str, zone: str, window: Window) -> Read:
    """One payload's calendar object, or why it has none.

    The payload is whatever a server (or whoever writes to it) sent. The reader turns
    every fault it knows into `InvalidCalendarData`; anything else a parser library
    raises on input nobody foresaw fails this payload alone, never the synchronization
    (nor, in the pool, the other payloads of its chunk).
    """
    try:
        return read_object(payload, zone, window)
    except InvalidCalendarData as error:
        return error
    except Exception as error:  # noqa: BLE001 - the boundary where untrusted input ends
        reason = f"{type(error).__name__}: {error}"
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        return InvalidCalendarData(f"unreadable calendar object ({reason})")


def _read_chunk(
    read_object: ObjectReaderFunction, payloads: Sequence[str], zone: str, window: Window
) -> list[Read]:
    return [read_one(read_object, payload, zone, window) for payload in payloads]


def stored_payload(data: bytes | None) -> str:
    """A provider payload as a calendar item keeps it."""
    return (data or b"").decode("utf-8", errors="replace")


def _forkserver() -> BaseContext:
    """Workers forked from a server that imported calsync's modules once.

    Each worker would otherwise import this module and the program's main module (the
    whole CLI) on its own (Python 3.11's forkserver does not preload `__main__`, whatever
    its documentation says): on two CPUs that is a second of the server's time lost.
    """
    context = get_context("forkserver")
    # A copy first: other threads import modules meanwhile (sys.modules changing size
    # during the iteration ended a worker in a fleet run).
    loaded = sorted(name for name in list(sys.modules) if name.split(".")[0] == "calsync")
    context.set_forkserver_preload([*loaded, __name__])
    return context


class ObjectReader:
    """Reads the payloads of one item's calendar with its adapter's `read_object`; `with`
    it to release the pool. `pooled=False` reads every payload in this process, for an
    adapter whose payloads cost less to read than to send to a pool
    (`Capabilities.cheap_to_read`)."""

    def __init__(
        self, read_object: ObjectReaderFunction, zone: str, window: Window, pooled: bool = True
    ) -> None:
        self.read_object, self.zone, self.window = read_object, zone, window
        self._workers = min(os.cpu_count() or 1, 4) if pooled else 1
        self._pool: ProcessPoolExecutor | None = None
        self._warming: threading.Thread | None = None
        self._early: dict[Payload, Future[list[Read]] | Read] = {}
        self._chunks: dict[Future[list[Read]], list[Payload]] = {}

    def warm_up(self) -> None:
        """Start the pool's processes in the background, to be ready when the pages come."""
        if self._workers > 1:
            pool = self._pool_()
            self._warming = threading.Thread(target=self._start_workers, args=(pool,), daemon=True)
            self._warming.start()

    def _start_workers(self, pool: ProcessPoolExecutor) -> None:
        for _ in range(self._workers):
            pool.submit(_read_chunk, self.read_object, [], self.zone, self.window)

    def prefetch(self, changes: Sequence[RemoteChange]) -> None:
        """Start reading a page of changes in the pool, if it is worth a pool."""
        payloads = [
            (c.provider_id, c.version, stored_payload(c.data)) for c in changes if not c.removed
        ]
        if self._worth_a_pool(len(payloads)):
            self._submit(payloads)

    def read(self, payloads: Sequence[Payload]) -> list[Read]:
        missing = list(dict.fromkeys(p for p in payloads if p not in self._early))
        if self._worth_a_pool(len(missing)):
            self._submit(missing)
        else:
            for payload in missing:
                self._early[payload] = read_one(
                    self.read_object, payload[2], self.zone, self.window
                )
        return [self._result(p) for p in payloads]

    def _worth_a_pool(self, count: int) -> bool:
        return count >= PARALLEL_FROM and self._workers > 1

    def _submit(self, payloads: Sequence[Payload]) -> None:
        for start in range(0, len(payloads), CHUNK):
            chunk = list(payloads[start : start + CHUNK])
            future = self._pool_().submit(
                _read_chunk, self.read_object, [p[2] for p in chunk], self.zone, self.window
            )
            self._chunks[future] = chunk
            for payload in chunk:
                self._early[payload] = future

    def _result(self, payload: Payload) -> Read:
        """The read of `payload`; kept until the reader closes (a page may list it twice)."""
        found = self._early[payload]
        if isinstance(found, Future):
            # The task read a whole chunk: keep its other results for their turn.
            chunk = self._chunks.pop(found)
            for key, result in zip(chunk, found.result(), strict=True):
                self._early[key] = result
        done = self._early[payload]
        assert not isinstance(done, Future)
        return done

    def _pool_(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=_forkserver())
        return self._pool

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._warming is not None:
            self._warming.join()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
