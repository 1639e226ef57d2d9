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

Where the service lists each instance of a series as an object of its own and takes the
room's answer once on the series (`Capabilities.answers_series`), a run holds every due
answer of the series it answers (`join_series`), and the answers to one series go on the
series (`calsync.sync.series`): its write records no instance's version (calsync did not
see the versions it gave them), and an instance found changed since its answer was
decided is left to a synchronization, queued for it, to decide again.
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
from calsync.domain.events import Action, EventState
from calsync.errors import InvalidCalendarData, ProviderThrottled, ProviderUnavailable
from calsync.providers import load
from calsync.providers.base import Provider, WriteResult
from calsync.store.claims import Claim
from calsync.store.items import StoredItem
from calsync.sync.conflicts import CalendarMoved, written_over
from calsync.sync.respond import room_answer_of
from calsync.sync.series import Place, Series, answer_series, by_series


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

    @property
    def partstat(self) -> str:
        """The room's answer (PARTSTAT), by which a series' answers are grouped."""
        return str(self.answer.get("partstat", "")).upper()


def send_answers(
    services: Services, claims: Sequence[Claim], lost: Callable[[], Collection[int]]
) -> list[AnswerRun]:
    """Send these respond events' answers one after another; what became of each. `lost`
    names the events whose claims were found taken over meanwhile (the leases' renewal,
    `worker.lease.Heartbeat`): their answers are not sent. Where the service takes a
    series' answer once (`calsync.sync.series`), the answers to instances of one series
    go on the series; the others, and those the series write leaves, one by one."""
    lease = timedelta(seconds=services.settings.sync.lease_seconds)
    runs: list[AnswerRun] = []
    answers = _prepare(services, claims, lease, runs)
    sender = _Sender(services, lost, runs)
    for item_answers in _by_item(answers):
        provider = _provider(services, item_answers[0])
        plain = [answer for answer in item_answers if _plain_answer(answer, services)]
        series, alone = by_series(provider, plain)
        # The instances given another answer first: their own answer is theirs to keep
        # whatever the series' answer is.
        sender.each([answer for answer in item_answers if answer not in plain] + alone)
        for group in series:
            sender.each(sender.on_series(provider, group))
    _queue_reads(services, sender.done)
    return runs + _finish(services, sender.done, lease)


def join_series(services: Services, claims: Sequence[Claim], limit: int) -> list[Claim]:
    """`claims` and, where the service takes a series' answer once, up to `limit` more
    due answers of the series these answer, claimed as well: so that a run holds every
    answer of a series it writes (`calsync.sync.series`)."""
    answering = {name for name in services.settings.connections if _answers_series(services, name)}
    if not answering:
        return list(claims)
    held = [claim.event_id for claim in claims if claim.action == Action.respond.value]
    lease = timedelta(seconds=services.settings.sync.lease_seconds)
    with services.uow() as uow:
        series = uow.events.series_answered(held)
        items = uow.items.by_ids({item_id for item_id, _ in series})
        series = [
            (item_id, uid)
            for item_id, uid in series
            if (binding := items[item_id].item.binding) is not None
            and binding.connection in answering
        ]
        rows = uow.events.claim_series_answers(
            series, [c.event_id for c in claims], services.clock(), lease, limit
        )
        joined = [Claim.of(row) for row in rows]
        uow.commit()
    return [*claims, *joined]


def _answers_series(services: Services, connection: str) -> bool:
    """Whether the connection's service takes a series' answer once, asked of its adapter
    (or its class, where none was made: a connection's secrets are read only once used)."""
    made = services.providers.get(connection)
    adapter = made if made is not None else load(services.settings.connection(connection).kind)
    return bool(adapter.capabilities.answers_series)


@dataclass(frozen=True)
class _Done:
    """An answer written (or found moot), for `_finish` to record: the texts kept on its
    event, and the version its write gave the instance, recorded as calsync's own (None:
    nothing recorded, as after a series write, whose instances' versions calsync did not
    see it produce). `read_again`: the instance changed since the answer was decided; a
    synchronization of its calendar is queued to decide it again."""

    answer: _Answer
    provider_payload: str
    response: str
    version: str | None
    seconds: float
    read_again: bool = False


class _Sender:
    """Sends answers one by one or on their series, gathering what became of each; once
    the service says to wait (429, 503), every later answer waits as well."""

    def __init__(
        self, services: Services, lost: Callable[[], Collection[int]], runs: list[AnswerRun]
    ) -> None:
        self.services, self.lost, self.runs = services, lost, runs
        self.done: list[_Done] = []
        self.refused: ProviderThrottled | ProviderUnavailable | None = None
        self.started = time.monotonic()

    def each(self, answers: Sequence[_Answer]) -> None:
        for answer in answers:
            if self._held_back(answer):
                continue
            try:
                result = _write(self.services, answer)
            except Exception as exc:  # noqa: BLE001 - the runner records it as any run's failure
                self._failed([answer], exc)
                continue
            if isinstance(result, CalendarMoved):
                self.runs.append(_run(answer, Outcome.ALONE, self.started))
                continue
            exchange = result.exchange
            self.done.append(
                _Done(answer, exchange.request, exchange.response, result.version, self._since())
            )

    def on_series(self, provider: Provider, series: Series[_Answer]) -> list[_Answer]:
        """Write the series' answer; the answers left to send one by one."""
        answers = [answer for answer in series.answers if not self._held_back(answer)]
        if len(answers) < 2:
            return answers
        binding = answers[0].item.item.binding
        assert binding is not None  # on the plain path
        place = Place(binding.calendar, binding.room_address, answers[0].item.item.time_zone)
        group = Series(series.series_id, series.partstat, tuple(answers))
        try:
            done = answer_series(provider, place, group, self.services.clock())
        except Exception as exc:  # noqa: BLE001 - the runner records it as any run's failure
            self._failed(answers, exc)
            return []
        seconds = self._since()
        if done.exchange is not None:
            note = (
                f"answered {series.partstat} once on its series {series.series_id}, with "
                f"{len(done.answered)} of its instances"
            )
            request, response = done.exchange.request, f"{note}\n\n{done.exchange.response}"
            self.done += [_Done(a, request, response, None, seconds) for a in done.answered]
        for answer in done.changed:
            why = (
                f"superseded: {answer.provider_id} changed in the calendar after the room's "
                f"answer was decided (its series {series.series_id} was read before the "
                "answer was written); a synchronization of the calendar decides it again"
            )
            self.done.append(_Done(answer, "", why, None, seconds, read_again=True))
        return done.alone

    def _held_back(self, answer: _Answer) -> bool:
        """Not sent: another worker took the event over, or the service said to wait."""
        if self.refused is not None:
            self.runs.append(_run(answer, Outcome.FAILED, self.started, self.refused))
            return True
        if answer.claim.event_id in self.lost():
            self.runs.append(_run(answer, Outcome.LOST, self.started))
            return True
        return False

    def _failed(self, answers: Sequence[_Answer], exc: Exception) -> None:
        if isinstance(exc, ProviderThrottled | ProviderUnavailable):
            self.refused = exc
        self.runs += [_run(answer, Outcome.FAILED, self.started, exc) for answer in answers]

    def _since(self) -> float:
        return time.monotonic() - self.started


def _plain_answer(answer: _Answer, services: Services) -> bool:
    """A valid PARTSTAT alone, which an answer written on its series can stand for (not
    an answer declining occurrences one by one, nor one refused as invalid)."""
    try:
        said = room_answer_of(answer.answer, "", services.clock())
    except InvalidCalendarData:
        return False
    return not said.declined


def _by_item(answers: Sequence[_Answer]) -> list[list[_Answer]]:
    """The answers of each item together, in the order they came."""
    found: dict[int, list[_Answer]] = {}
    for answer in answers:
        found.setdefault(answer.item.id, []).append(answer)
    return list(found.values())


def _provider(services: Services, answer: _Answer) -> Provider:
    binding = answer.item.item.binding
    assert binding is not None  # on the plain path
    return services.provider(binding.connection)


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


def _queue_reads(services: Services, done: Sequence[_Done]) -> None:
    """A synchronization of each calendar where an answered instance changed since its
    answer was decided: it reads the change and decides it again. Queued in a
    transaction of its own (a read queued for answers another worker took over reads
    nothing amiss)."""
    items = {d.answer.item.id: d.answer.item.item.name for d in done if d.read_again}
    if not items:
        return
    with services.uow() as uow:
        for item_id, name in items.items():
            payload = {"item": name, "full": False, "confirm_sweep": False}
            uow.events.queue_read(item_id, services.clock(), payload)
        uow.commit()


def _finish(services: Services, done: list[_Done], lease: timedelta) -> list[AnswerRun]:
    """The versions the calendar gave back on the reservations still at the decided one,
    and the events processed, in one commit; only for claims that still hold."""
    if not done:
        return []
    with services.uow() as uow:
        now = services.clock()
        # The items' writer locks first, then the events' rows (the order of push._finish).
        for item_id in sorted({d.answer.item.id for d in done}):
            uow.reservations.lock_item(item_id)
        held = uow.events.hold_all([d.answer.claim for d in done], now, lease)
        uow.reservations.set_versions_written(
            [
                (d.answer.item.id, d.answer.provider_id, d.version, d.answer.version)
                for d in done
                if d.answer.claim.event_id in held and d.version is not None
            ]
        )
        runs = []
        for d in done:
            answer = d.answer
            row = held.get(answer.claim.event_id)
            outcome = Outcome.LOST if row is None else Outcome.SENT
            runs.append(
                AnswerRun(answer.claim, outcome, answer.item.item.name, answer.attempt, d.seconds)
            )
            if row is None:
                continue
            row.state, row.error = EventState.processed.value, ""
            row.provider_payload, row.response = d.provider_payload, d.response
            row.claimed_until, row.updated_at = None, now
        uow.commit()
    return runs
