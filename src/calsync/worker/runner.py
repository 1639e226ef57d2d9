"""Running events: `request_sync`, `run_event`, `run_once`.

Pending events are the durable queue. `run_once` claims due events (see
`EventRepository.claim`) and runs each: a `read` synchronizes the item and applies the
calendar items it produced; outbound actions are pushed to the provider. A throttled or
unreachable provider is retried with backoff (honouring Retry-After); other errors, and
the last failed attempt, leave the event in `error` with its error, ready to reprocess.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from random import Random
from typing import Any

from sqlalchemy.exc import IntegrityError

from calsync.bootstrap import Services
from calsync.domain.events import OUTBOUND, Action, EventState
from calsync.errors import CalsyncError, ProviderThrottled, ProviderUnavailable
from calsync.providers.base import RemoteChange
from calsync.store.records import RecordFilter
from calsync.sync.apply import Applier, object_reader
from calsync.sync.pull import SyncResult, synchronize
from calsync.sync.push import push_event
from calsync.worker.retry import next_attempt

log = logging.getLogger("calsync.worker")
_rng = Random()


@dataclass(frozen=True)
class RunResult:
    event_id: int
    state: EventState
    error: str = ""
    synchronization: SyncResult | None = None


def request_sync(
    services: Services, item: str, full: bool = False, confirm_sweep: bool = False
) -> int:
    """The id of the item's queued read event: a new one unless one is already waiting."""
    with services.uow() as uow:
        stored = uow.items.get(item)
        waiting = uow.events.find(
            RecordFilter(item_id=stored.id, status=EventState.new.value, action=Action.read.value)
        )
        payload = {"item": item, "full": full, "confirm_sweep": confirm_sweep}
        for event in waiting:
            if json.loads(event.payload) == payload:
                return event.id
        event = uow.events.add(stored.id, Action.read, services.clock(), payload)
        uow.commit()
        return event.id


def run_once(services: Services, limit: int = 20) -> list[RunResult]:
    """Claim up to `limit` due events and run them."""
    with services.uow() as uow:
        lease = timedelta(seconds=services.settings.sync.lease_seconds)
        try:
            claimed = [event.id for event in uow.events.claim(services.clock(), lease, limit)]
            uow.commit()
        except IntegrityError:
            # Another worker started reading the same calendar: leave it to them.
            return []
    return [run_event(services, event_id) for event_id in claimed]


def run_now(services: Services, event_id: int) -> RunResult:
    """Claim this event and run it at once (`calsync sync`); CalendarBusy if its calendar
    is being read by someone else."""
    with services.uow() as uow:
        lease = timedelta(seconds=services.settings.sync.lease_seconds)
        uow.events.claim_one(event_id, services.clock(), lease)
        uow.commit()
    return run_event(services, event_id)


def run_event(services: Services, event_id: int) -> RunResult:
    with services.uow() as uow:
        event = uow.events.get(event_id)
        action, payload, item_id = Action(event.action), json.loads(event.payload), event.item_id
    try:
        if action == Action.read:
            return _read(services, event_id, item_id, payload)
        if action in OUTBOUND:
            push_event(services, event_id)
            return RunResult(event_id, EventState.processed)
        raise CalsyncError(f"no handler for action {action.value!r}")
    except (ProviderThrottled, ProviderUnavailable) as exc:
        retry_after = exc.retry_after if isinstance(exc, ProviderThrottled) else None
        return _failed(services, event_id, exc, retry_after, retryable=True)
    except CalsyncError as exc:
        return _failed(services, event_id, exc, None, retryable=False)


def _read(services: Services, event_id: int, item_id: int, payload: dict[str, Any]) -> RunResult:
    """Synchronize and apply as a pipeline: while the provider sends page k+1, page k is
    read by the pool and page k-1 is decided, its batches written by the applier's thread."""
    with services.uow() as uow:
        stored = uow.items.by_id(item_id)
    full, confirm_sweep = bool(payload.get("full")), bool(payload.get("confirm_sweep"))
    with (
        object_reader(stored, services.clock()) as reader,
        Applier(services, stored, reader) as applier,
    ):
        if full or stored.delta_key is None:
            reader.warm_up()  # a full listing is coming: start the pool while the server lists
        previous_page: int | None = None  # the newest calendar item of the page before

        def on_recorded(changes: Sequence[RemoteChange], through_id: int) -> None:
            nonlocal previous_page
            reader.prefetch(changes)
            if previous_page is not None:
                applier.apply_behind(through_id=previous_page)
            previous_page = through_id

        result = synchronize(services, event_id, full, confirm_sweep, on_recorded)
        applier.apply()
    return RunResult(event_id, EventState.processed, synchronization=result)


def _failed(
    services: Services,
    event_id: int,
    error: CalsyncError,
    retry_after: float | None,
    retryable: bool,
) -> RunResult:
    settings = services.settings.sync
    with services.uow() as uow:
        now = services.clock()
        event = uow.events.get(event_id)
        event.attempts += 1
        event.error = f"{type(error).__name__}: {error}"
        event.claimed_until, event.updated_at = None, now
        when = None
        if retryable:
            when = next_attempt(
                event.attempts,
                settings.max_attempts,
                now,
                retry_after,
                settings.backoff_seconds,
                settings.backoff_max_seconds,
                _rng,
            )
        if when is None:
            event.state = EventState.error.value
        else:
            event.state, event.next_attempt_at = EventState.new.value, when
        uow.commit()
        state = EventState(event.state)
    log.warning("event %s %s: %s", event_id, state.value, error)
    return RunResult(event_id, state, str(error))
