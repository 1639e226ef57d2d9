"""Running events: `request_sync`, `run_claimed`, `run_once`, `run_now`, `run_event`.

Pending events are the durable queue. A run holds its event through a `Claim` (the event
and its fencing token): `run_claimed` keeps the claim's lease alive with a `Heartbeat`
while it runs, and every commit of the run checks the claim first (`EventRepository.hold`),
so a run that stalled past its lease and lost its event to another worker commits
nothing more (`ClaimLost`; its result says `lost`).

A `read` synchronizes the item and applies the calendar items it produced; outbound
actions are pushed to the provider. A throttled or unreachable provider is retried with
backoff (honouring Retry-After); other errors, and the last failed attempt, leave the
event in `error` with its error, ready to reprocess. Each run ends in one log line
(`calsync.worker.logs`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from random import Random
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from calsync.bootstrap import Services
from calsync.domain.events import OUTBOUND, Action, EventState
from calsync.errors import (
    CalsyncError,
    ClaimLost,
    InvalidCalendarData,
    ProviderThrottled,
    ProviderUnavailable,
    StoreUnavailable,
)
from calsync.providers.base import RemoteChange
from calsync.store.records import Claim
from calsync.sync.answers import AnswerRun, Outcome, join_series, send_answers
from calsync.sync.apply import Applier, object_reader
from calsync.sync.pull import SyncResult, synchronize
from calsync.sync.push import push_event
from calsync.worker.lease import Heartbeat
from calsync.worker.logs import log_run
from calsync.worker.retry import next_attempt

log = logging.getLogger("calsync.worker")
_rng = Random()

#: The answers of one series a run claims at most besides its own: one write answers
#: them all; those beyond go in the next run (and find their instances answered).
SERIES_ANSWERS = 500


@dataclass(frozen=True)
class RunResult:
    event_id: int
    state: EventState
    error: str = ""
    synchronization: SyncResult | None = None
    #: The run lost its claim to another worker and stopped without committing more.
    lost: bool = False

    @property
    def outcome(self) -> str:
        return "claim_lost" if self.lost else self.state.value


def request_sync(
    services: Services, item: str, full: bool = False, confirm_sweep: bool = False
) -> int:
    """The id of the item's queued read event: a new one unless one is already waiting."""
    with services.uow() as uow:
        stored = uow.items.get(item)
        payload = {"item": item, "full": full, "confirm_sweep": confirm_sweep}
        event_id = uow.events.queue_read(stored.id, services.clock(), payload)
        assert event_id is not None  # not a poll: always queued
        uow.commit()
        return event_id


def lease_of(services: Services) -> timedelta:
    return timedelta(seconds=services.settings.sync.lease_seconds)


def claim_next(services: Services, limit: int = 1, kind: str = "any") -> list[Claim]:
    """Claim up to `limit` due events (reads first, see `EventRepository.claim`); `kind`
    "reads" or "outbound" claims only those.

    A worker claims only what it starts soon (`Dispatcher`: reads for its free slots,
    outbound events a few per slot, given back if they wait a third of their lease): a
    long batch run one after another would start its last events after their lease ran
    out, and another worker would claim them again while they wait.
    """
    with services.uow() as uow:
        try:
            rows = uow.events.claim(
                services.clock(),
                lease_of(services),
                limit,
                reads=kind != "outbound",
                outbound=kind != "reads",
            )
            claims = uow.events.claims_of(rows)
            uow.commit()
        except IntegrityError:
            # Another worker started reading the same calendar: leave it to them.
            return []
    return claims


def run_once(services: Services, limit: int = 20) -> list[RunResult]:
    """Run up to `limit` due events, claiming each just before it starts; a room answer
    to an instance of a series the service answers once runs with the series' other
    due answers (`run_answers`)."""
    results: list[RunResult] = []
    while len(results) < limit and (claims := claim_next(services)):
        for claim in claims:
            if claim.action == Action.respond.value:
                joined = _with_series(services, [claim])
                if len(joined) > 1:
                    results += run_answers(services, joined, joined=True)
                    continue
            results.append(run_claimed(services, claim))
    return results


def run_now(services: Services, event_id: int) -> RunResult:
    """Claim this event and run it at once (`calsync sync`); CalendarBusy if its calendar
    is being read by a live run elsewhere (a dead run's read is taken over)."""
    with services.uow() as uow:
        claim = Claim.of(uow.events.claim_one(event_id, services.clock(), lease_of(services)))
        uow.commit()
    return run_claimed(services, claim)


def run_event(services: Services, event_id: int) -> RunResult:
    """Run an event already claimed by the caller, under the claim it holds now."""
    with services.uow() as uow:
        claim = Claim.of(uow.events.get(event_id))
    return run_claimed(services, claim)


def run_claimed(services: Services, claim: Claim) -> RunResult:
    """Run the event `claim` holds, renewing its lease meanwhile; one log line at the end."""
    started = time.monotonic()
    with services.uow() as uow:
        event = uow.events.get(claim.event_id)
        action, item_id, text = Action(event.action), event.item_id, event.payload
        attempt, item = event.attempts + 1, uow.items.name_of(event.item_id)
    with Heartbeat(services, claim) as heartbeat:
        try:
            payload = _payload(text)
        except InvalidCalendarData as exc:
            # A payload that is no JSON object fails its own event for good, never the
            # worker (which would meet it again each time its lease ran out).
            result = _failed(services, claim, exc, None, retryable=False)
            log_run(result, item, action.value, attempt, time.monotonic() - started)
            return result
        try:
            result = _dispatch(services, claim, heartbeat, action, item_id, payload)
        except SQLAlchemyError as exc:
            # The database itself failed (a dropped connection) and could not even record
            # the failure: the claim lapses and the event is taken over after its lease.
            result = RunResult(claim.event_id, EventState.processing, str(exc), lost=True)
    log_run(result, item, action.value, attempt, time.monotonic() - started)
    return result


def _payload(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise InvalidCalendarData(f"the event's payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidCalendarData("the event's payload is not a JSON object")
    return payload


def _dispatch(
    services: Services,
    claim: Claim,
    heartbeat: Heartbeat,
    action: Action,
    item_id: int,
    payload: dict[str, Any],
) -> RunResult:
    try:
        heartbeat.check()
        if action == Action.read:
            return _read(services, claim, item_id, payload)
        if action in OUTBOUND:
            # The sending half of the fence (check before sending and in the final commit)
            # lives in push_event; see EventRepository.hold.
            push_event(services, claim.event_id, claim)
            heartbeat.check()
            return RunResult(claim.event_id, EventState.processed)
        raise CalsyncError(f"no handler for action {action.value!r}")
    except Exception as exc:  # noqa: BLE001 - a fault in calsync fails its event, not the worker
        return _failure(services, claim, exc)


def _failure(services: Services, claim: Claim, exc: Exception) -> RunResult:
    """What a run that raised `exc` ends in: retried later, in error, or lost."""
    if isinstance(exc, ClaimLost):
        return RunResult(claim.event_id, EventState.processing, str(exc), lost=True)
    if isinstance(exc, ProviderThrottled | ProviderUnavailable):
        retry_after = exc.retry_after if isinstance(exc, ProviderThrottled) else None
        return _failed(services, claim, exc, retry_after, retryable=True)
    if isinstance(exc, CalsyncError):
        return _failed(services, claim, exc, None, retryable=False)
    if isinstance(exc, SQLAlchemyError):
        # A dropped connection or a failed statement: one failed attempt, retried later.
        failure = StoreUnavailable(f"the database failed: {type(exc).__name__}: {exc}")
        return _failed(services, claim, failure, None, retryable=True)
    log.error("event %s: unexpected %s", claim.event_id, type(exc).__name__, exc_info=exc)
    fault = CalsyncError(f"unexpected {type(exc).__name__} in calsync: {exc}")
    return _failed(services, claim, fault, None, retryable=True)


def run_answers(
    services: Services,
    claims: Sequence[Claim],
    giving_back: threading.Event | None = None,
    joined: bool = False,
) -> list[RunResult]:
    """Run these respond events together (`send_answers`), with the other due answers of
    the series they answer unless `joined` already: one log line each; those off the plain
    path run alone (`run_claimed`), their leases kept alive meanwhile. Once `giving_back`
    is set (a worker stopping gives its claims back), nothing more is sent."""
    if not joined:
        claims = _with_series(services, claims)
    with Heartbeat(services, *claims) as heartbeat:

        def lost() -> Collection[int]:
            if giving_back is not None and giving_back.is_set():
                return {claim.event_id for claim in claims}
            return heartbeat.lost_ids()

        try:
            runs = send_answers(services, claims, lost)
        except SQLAlchemyError as exc:
            # As in `run_claimed`: the claims lapse and the events are taken over later.
            return [
                RunResult(c.event_id, EventState.processing, str(exc), lost=True) for c in claims
            ]
        except Exception as exc:  # noqa: BLE001 - a fault in calsync fails its events, not the worker
            return [_failure(services, claim, exc) for claim in claims]
        return [_result_of(services, run, giving_back) for run in runs]


def _with_series(services: Services, claims: Sequence[Claim]) -> list[Claim]:
    """`claims` and the due answers of the series they answer (`join_series`); only
    `claims` when the database fails meanwhile (nothing more was claimed then)."""
    try:
        return join_series(services, claims, SERIES_ANSWERS)
    except SQLAlchemyError as exc:
        ids = ", ".join(str(claim.event_id) for claim in claims)
        log.warning("event %s: the answers of its series were not joined: %s", ids, exc)
        return list(claims)


def _result_of(
    services: Services, run: AnswerRun, giving_back: threading.Event | None
) -> RunResult:
    """One answer's result, logged; an answer off the plain path is run alone first."""
    if run.outcome == Outcome.ALONE:
        if giving_back is not None and giving_back.is_set():
            lost = f"event {run.claim.event_id} was given back unsent"
            return RunResult(run.claim.event_id, EventState.processing, lost, lost=True)
        return run_claimed(services, run.claim)
    if run.outcome == Outcome.SENT:
        result = RunResult(run.claim.event_id, EventState.processed)
    elif run.outcome == Outcome.FAILED:
        assert run.error is not None
        result = _failure(services, run.claim, run.error)
    else:
        lost = f"event {run.claim.event_id} was taken over by another worker"
        result = RunResult(run.claim.event_id, EventState.processing, lost, lost=True)
    log_run(result, run.item, Action.respond.value, run.attempt, run.seconds)
    return result


def _read(services: Services, claim: Claim, item_id: int, payload: dict[str, Any]) -> RunResult:
    """Synchronize and apply as a pipeline: while the provider sends page k+1, page k is
    read by the pool and page k-1 is decided, its batches written by the applier's thread."""
    with services.uow() as uow:
        stored = uow.items.by_id(item_id)
    full, confirm_sweep = bool(payload.get("full")), bool(payload.get("confirm_sweep"))
    with (
        object_reader(services, stored, services.clock()) as reader,
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

        result = synchronize(
            services, claim.event_id, full, confirm_sweep, on_recorded, claim=claim
        )
        applier.apply()
    return RunResult(claim.event_id, EventState.processed, synchronization=result)


def _failed(
    services: Services,
    claim: Claim,
    error: CalsyncError,
    retry_after: float | None,
    retryable: bool,
) -> RunResult:
    settings = services.settings.sync
    with services.uow() as uow:
        now = services.clock()
        try:
            event = uow.events.hold(claim, now, lease_of(services))
        except ClaimLost as lost:
            # Another worker runs the event now: its outcome is theirs to record.
            return RunResult(claim.event_id, EventState.processing, str(lost), lost=True)
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
    return RunResult(claim.event_id, state, str(error))
