"""`send_answers(services, claims)`: the room's answers of many respond events, sent with
their bookkeeping shared; what a fleet's first synchronization queues by the thousand.

Each answer is the write `push_event` makes for one respond event: the version the
answer was decided on, as its calendar item keeps it, edited and sent with `If-Match`
(`conflicts.written_over`). What the answers share is the bookkeeping around the writes,
which cost more than the writes themselves when every answer had its own: one
transaction holds every claim and reads what the writes are based on, one records the
versions the calendar gave back and marks the events processed. Each transaction checks
the claims as `EventRepository.hold` does (DESIGN invariant 6): an answer whose claim was
taken over is not sent, or not recorded; the runner renews the leases while the answers
go out (`worker.lease.Heartbeat`).

An answer off the plain path (a dry run, no calendar item kept at its version, nothing
mirrored any more, a version that moved since) is handed back (`ALONE`) to run by itself
through `push_event`, which knows every case; a failed write is handed back with its
error, for the runner to record as any run's failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from calsync.bootstrap import Services
from calsync.domain.events import EventState
from calsync.errors import ProviderThrottled, ProviderUnavailable
from calsync.providers.base import WriteResult
from calsync.store.claims import Claim
from calsync.store.items import StoredItem
from calsync.sync.conflicts import CalendarMoved, written_over
from calsync.sync.respond import room_answer_of


class Outcome(StrEnum):
    SENT = "sent"
    LOST = "lost"  # another worker took the event over
    ALONE = "alone"  # to be run by itself (push_event)
    FAILED = "failed"  # the write failed: `error`


@dataclass(frozen=True)
class AnswerRun:
    """What became of one respond event of the batch."""

    claim: Claim
    outcome: Outcome
    item: str = ""
    attempt: int = 1
    seconds: float = 0.0
    error: Exception | None = None


#: A held respond event: its item id, attempt and payload.
_Event = tuple[int, int, dict[str, Any]]


@dataclass(frozen=True)
class _Answer:
    claim: Claim
    attempt: int
    item: StoredItem
    provider_id: str
    answer: dict[str, Any]
    version: str
    decided: bytes


def send_answers(
    services: Services, claims: Sequence[Claim], lost: Callable[[], Collection[int]]
) -> list[AnswerRun]:
    """Send these respond events' answers one after another; what became of each. `lost`
    names the events whose claims were found taken over meanwhile (the leases' renewal,
    `worker.lease.Heartbeat`): their answers are not sent."""
    lease = timedelta(seconds=services.settings.sync.lease_seconds)
    started = time.monotonic()
    runs: list[AnswerRun] = []
    answers = _prepare(services, claims, lease, runs)
    written: list[tuple[_Answer, WriteResult, float]] = []
    refused: ProviderThrottled | ProviderUnavailable | None = None
    for answer in answers:
        if refused is not None:  # the service said to wait: the others wait as well
            runs.append(_run(answer, Outcome.FAILED, started, refused))
            continue
        if answer.claim.event_id in lost():
            runs.append(_run(answer, Outcome.LOST, started))
            continue
        try:
            result = _write(services, answer)
        except (ProviderThrottled, ProviderUnavailable) as exc:
            refused = exc
            runs.append(_run(answer, Outcome.FAILED, started, exc))
            continue
        except Exception as exc:  # noqa: BLE001 - the runner records it as any run's failure
            runs.append(_run(answer, Outcome.FAILED, started, exc))
            continue
        if isinstance(result, CalendarMoved):
            runs.append(_run(answer, Outcome.ALONE, started))
            continue
        written.append((answer, result, time.monotonic() - started))
    return runs + _finish(services, written, lease)


def _run(
    answer: _Answer, outcome: Outcome, started: float, error: Exception | None = None
) -> AnswerRun:
    seconds = time.monotonic() - started
    return AnswerRun(answer.claim, outcome, answer.item.item.name, answer.attempt, seconds, error)


def _prepare(
    services: Services, claims: Sequence[Claim], lease: timedelta, runs: list[AnswerRun]
) -> list[_Answer]:
    """Hold every claim and read what each write is based on, in one transaction; the
    answers on the plain path (the others are in `runs`)."""
    with services.uow() as uow:
        held = uow.events.hold_all(claims, services.clock(), lease)
        events: dict[int, _Event] = {
            event_id: (row.item_id, row.attempts + 1, _payload(row.payload))
            for event_id, row in held.items()
        }
        kept = uow.calendar_items.payloads(
            [
                p["calendar_item_id"]
                for _, _, p in events.values()
                if isinstance(p.get("calendar_item_id"), int)
            ]
        )
        items = uow.items.by_ids([item_id for item_id, _, _ in events.values()])
        mirrored = uow.reservations.mirrored(
            [
                (item_id, p["provider_id"])
                for item_id, _, p in events.values()
                if isinstance(p.get("provider_id"), str)
            ]
        )
        uow.commit()
    answers = []
    for claim in claims:
        if claim.event_id not in events:
            runs.append(AnswerRun(claim, Outcome.LOST))
            continue
        item_id, attempt, payload = events[claim.event_id]
        stored = items.get(item_id)
        provider_id, partstat = payload.get("provider_id"), payload.get("partstat")
        version = payload.get("version")
        kept_version, decided = kept.get(payload.get("calendar_item_id", -1), (None, ""))
        binding = stored.item.binding if stored is not None else None
        plain = (
            binding is not None
            and not binding.dry_run
            and kept_version == version
            and bool(decided)
            and (item_id, provider_id) in mirrored
        )
        if (
            not plain
            or stored is None
            or not isinstance(provider_id, str)
            or not isinstance(partstat, str)
            or not isinstance(version, str)
        ):
            name = stored.item.name if stored is not None else ""
            runs.append(AnswerRun(claim, Outcome.ALONE, name, attempt))
            continue
        answers.append(
            _Answer(claim, attempt, stored, provider_id, payload, version, decided.encode("utf-8"))
        )
    return answers


def _payload(text: str) -> dict[str, Any]:
    """The event's payload; {} (the answer runs alone, whose run says what is wrong) if it
    is not a JSON object."""
    try:
        payload = json.loads(text)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _write(services: Services, answer: _Answer) -> WriteResult | CalendarMoved:
    binding = answer.item.item.binding
    assert binding is not None  # on the plain path
    provider = services.provider(binding.connection)
    edit = room_answer_of(answer.answer, binding.room_address, services.clock())
    return written_over(
        provider, binding.calendar, answer.provider_id, answer.version, answer.decided, edit
    )


def _finish(
    services: Services, written: list[tuple[_Answer, WriteResult, float]], lease: timedelta
) -> list[AnswerRun]:
    """The versions the calendar gave back on the reservations still at the decided one,
    and the events processed, in one commit; only for claims that still hold."""
    if not written:
        return []
    with services.uow() as uow:
        now = services.clock()
        # The items' writer locks first, then the events' rows (the order of push._finish).
        for item_id in sorted({answer.item.id for answer, _, _ in written}):
            uow.reservations.lock_item(item_id)
        held = uow.events.hold_all([answer.claim for answer, _, _ in written], now, lease)
        uow.reservations.set_versions_written(
            [
                (answer.item.id, answer.provider_id, result.version, answer.version)
                for answer, result, _ in written
                if answer.claim.event_id in held
            ]
        )
        runs = []
        for answer, result, seconds in written:
            row = held.get(answer.claim.event_id)
            outcome = Outcome.LOST if row is None else Outcome.SENT
            runs.append(
                AnswerRun(answer.claim, outcome, answer.item.item.name, answer.attempt, seconds)
            )
            if row is None:
                continue
            row.state, row.error = EventState.processed.value, ""
            row.provider_payload, row.response = result.exchange.request, result.exchange.response
            row.claimed_until, row.updated_at = None, now
        uow.commit()
    return runs
