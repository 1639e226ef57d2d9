"""`push_event(services, event_id)`: send one outbound event to the calendar service.

Outbound events come from the transactional outbox: a reservation change and its event
were written together. Sending stores the provider id and version on the reservation, so
the next read recognizes the write as our own (echo suppression). With `dry_run` on the
binding the provider payload is built and kept, and nothing is sent.

`create` on a reservation that already has a provider id becomes an update, so that
reprocessing a create that reached the provider is safe.

Every write is based on the version calsync last applied (`calsync.sync.conflicts`): its
own objects are replaced or deleted with `If-Match` on the version it holds; someone
else's (a room answer, an occurrence edit) are edited only while still at a version it
applied. When the calendar changed the object meanwhile, that change is applied first;
then the binding's `conflict_resolution` settles calsync's pending change to its own
objects ("calendar", the default: it is superseded; "calsync": it is sent over the
calendar's), while an edit of someone else's meeting always gives way to its organizer.
A superseded event is processed, its response saying why, never left in error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from calsync.bootstrap import Services
from calsync.domain.decide import room_verdict
from calsync.domain.events import Action, EventState
from calsync.domain.items import CalendarBinding, ConflictResolution
from calsync.domain.reservations import Reservation, ReservationStatus
from calsync.errors import (
    ConfigError,
    NotFound,
    ObjectExists,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from calsync.providers.base import (
    Booking,
    Edit,
    Exchange,
    OccurrenceCancel,
    OccurrenceMove,
    Provider,
    RemoteChange,
    WriteResult,
)
from calsync.store.claims import Claim
from calsync.store.items import StoredItem
from calsync.store.tables import EventRow
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.conflicts import (
    CalendarMoved,
    apply_calendar_state,
    based_on_applied,
    moved_since,
    read_current,
    refused_as_changed,
    written_over,
)
from calsync.sync.respond import room_answer_of
from calsync.sync.waiting import calsync_owns

DRY_RUN = "dry run: nothing was sent to the provider"


class Mirrors(NamedTuple):
    """Every reservation of `item_id` mirroring `provider_id` at one of the versions the
    write was `based_on` now has `version` there."""

    item_id: int
    provider_id: str
    version: str | None
    based_on: frozenset[str | None]


class _Sent(NamedTuple):
    """What a write left: where the reservation now lives, the exchange, the version
    every mirror of an edited object takes, and the room's answer to a booking where the
    room decides (None: not such a service, or no booking)."""

    reservation: Reservation | None
    exchange: Exchange
    mirrors: Mirrors | None = None
    room_answer: RoomVerdict | None = None


class RoomVerdict(NamedTuple):
    status: ReservationStatus
    reason: str


def _placed_by(provider: Provider, reservation: Reservation, result: WriteResult) -> _Sent:
    """A booking written whole: where it lives now, and the room's answer to it."""
    return _Sent(
        _placed(reservation, result), result.exchange, None, _room_verdict(provider, result)
    )


def _room_verdict(provider: Provider, result: WriteResult) -> RoomVerdict | None:
    """Where the service's room decides: calsync's booking is confirmed once the room
    accepted, conflicted when it declined, awaiting its answer until then."""
    if not provider.capabilities.room_decides:
        return None
    return RoomVerdict(*room_verdict(result.room_answer))


@dataclass(frozen=True)
class _Run:
    """One outbound event being sent, under the claim that lets it send and commit."""

    services: Services
    event_id: int
    claim: Claim | None
    item_id: int = 0  # the event's item, once read

    def hold(self, uow: UnitOfWork) -> EventRow:
        """The event's row; ClaimLost if another worker took the event over (see
        EventRepository.hold)."""
        if self.claim is None:
            return uow.events.get(self.event_id)
        lease = timedelta(seconds=self.services.settings.sync.lease_seconds)
        return uow.events.hold(self.claim, self.services.clock(), lease)


def push_event(services: Services, event_id: int, claim: Claim | None = None) -> None:
    """Send the event; with `claim` (a worker's run), only while the claim holds."""
    run = _Run(services, event_id, claim)
    with services.uow() as uow:
        # Just before sending (nothing below waits on the network before it sends): a run
        # that lost its claim sends nothing. In this transaction, not one more per event.
        event = run.hold(uow)
        action, payload = Action(event.action), json.loads(event.payload)
        stored = uow.items.by_id(event.item_id)
        reservation = uow.reservations.get(event.reservation_id) if event.reservation_id else None
        applied = _applied_versions(uow, stored.id, payload, reservation)
        decided = _decided_data(uow, payload) if action == Action.respond else None
        uow.commit()
    run = replace(run, item_id=stored.id)
    binding = stored.item.binding
    if binding is None:
        raise ConfigError(f"item {stored.item.name!r} has no calendar binding")
    if action == Action.respond:
        _respond(run, payload, stored, binding, applied, decided)
        return
    assert reservation is not None, f"event {event_id} names no reservation"
    now = services.clock()
    provider = services.provider(binding.connection)
    data = _booking(stored, binding, reservation, now)
    sent_as = provider.payload_of(data)
    if binding.dry_run:
        _finish(run, sent_as, DRY_RUN, reservation=None)
        return
    if action != Action.delete and reservation.status == ReservationStatus.cancelled:
        # Run late (a reprocess, a retry): the reservation was cancelled since. Sending it
        # would book in the calendar what calsync no longer holds; a create of it that
        # landed before its run was cut short is taken back.
        why = f"superseded: reservation {reservation.id} was cancelled before this was sent"
        removed = _remove_landed(provider, binding.calendar, reservation)
        if removed is not None:
            why += "; its create had reached the calendar, and was deleted there"
        _finish(run, sent_as, why, reservation=None)
        return
    try:
        try:
            attempt = _send(provider, stored, binding, action, reservation, data, applied, now)
        except _LandedThenDeleted as gone:
            _deleted_after_landing(run, stored, reservation, gone.provider_id, sent_as)
            return
        for _ in range(_REBASES):
            if not _rebases(attempt, reservation):
                break
            # Someone else's meeting, changed meanwhile: their change is applied (calsync's
            # change of this reservation kept), then calsync's edit is written on top.
            assert isinstance(attempt, CalendarMoved)
            change = apply_calendar_state(services, stored, event_id, attempt, run.hold, applied)
            with services.read() as uow:
                now_held = uow.reservations.get(reservation.id)
                # As held now: an occurrence cancelled in calsync mirrors the instance it
                # leaves alone, and only its own row took the version just applied.
                applied = _applied_versions(uow, stored.id, payload, now_held)
            if action != Action.delete and now_held.status == ReservationStatus.cancelled:
                why = (
                    f"superseded: its organizer removed it from the calendar (calendar item "
                    f"{change.calendar_item_id}) before calsync's change was sent"
                )
                _finish(run, sent_as, why, reservation=None)
                return
            attempt = _send(provider, stored, binding, action, reservation, data, applied, now)
        else:
            raise ProviderUnavailable(
                f"{reservation.provider_id} changed again each time calsync read it; "
                "calsync's edit is tried again later"
            )
        sent = (
            _settle(run, stored, provider, action, reservation, data, attempt, applied)
            if isinstance(attempt, CalendarMoved)
            else attempt
        )
    except ProviderError:
        _keep_provider_payload(run, sent_as)
        raise
    if isinstance(sent, str):
        _finish(run, sent_as, sent, reservation=None)
        return
    exchange = sent.exchange
    _finish(
        run, exchange.request, exchange.response, sent.reservation, sent.mirrors, sent.room_answer
    )


def _decided_data(uow: UnitOfWork, payload: dict[str, Any]) -> bytes | None:
    """The object as the room's answer was decided on it, if its calendar item is kept."""
    if payload.get("version") is None or "calendar_item_id" not in payload:
        return None
    try:
        item = uow.calendar_items.get(payload["calendar_item_id"])
    except NotFound:
        return None  # purged: the object is read again
    if item.provider_version != payload["version"] or not item.provider_payload:
        return None
    return item.provider_payload.encode("utf-8")


def _applied_versions(
    uow: UnitOfWork, item_id: int, payload: dict[str, Any], reservation: Reservation | None
) -> frozenset[str | None]:
    """The versions of the object calsync last applied (or produced from one it applied):
    what an edit of it may be based on."""
    provider_id = reservation.provider_id if reservation else payload.get("provider_id")
    if provider_id is None:
        return frozenset()
    known = uow.reservations.known_versions(item_id, [provider_id]).get(provider_id, set())
    if reservation is not None:
        known.add(reservation.provider_version)
    return frozenset(known)


#: How often an edit of someone else's meeting is based again on their newer version.
_REBASES = 3


def _rebases(attempt: _Sent | CalendarMoved, reservation: Reservation) -> bool:
    """An edit of someone else's meeting that met their change: it composes with it."""
    return (
        isinstance(attempt, CalendarMoved)
        and attempt.current is not None
        and _edits_in_place(reservation)
    )


def _edits_in_place(reservation: Reservation) -> bool:
    """Someone else's meeting, or one occurrence of a series: edit, never replace it."""
    return not calsync_owns(reservation)


def _send(
    provider: Provider,
    stored: StoredItem,
    binding: CalendarBinding,
    action: Action,
    reservation: Reservation,
    data: Booking,
    applied: frozenset[str | None],
    now: datetime,
) -> _Sent | CalendarMoved:
    calendar, provider_id = binding.calendar, reservation.provider_id
    if provider_id is None:
        if action == Action.delete:
            landed = _remove_landed(provider, calendar, reservation)
            return _Sent(None, landed or Exchange("nothing to delete: never sent", "", requests=0))
        result = _create(provider, calendar, reservation, data)
        return _placed_by(provider, reservation, result)
    whole = action == Action.delete and reservation.recurrence_id is None
    if _edits_in_place(reservation) and not whole:
        edit = _occurrence_edit(stored, action, reservation, now)
        edited = based_on_applied(provider, calendar, provider_id, applied, edit)
        if isinstance(edited, CalendarMoved):
            return edited
        mirrors = Mirrors(stored.id, provider_id, edited.version, applied)
        return _Sent(None, edited.exchange, mirrors)
    # A whole object replaced or deleted (a meeting cancelled in calsync leaves the room's
    # calendar), only if it is still at the version calsync knows.
    version = reservation.provider_version
    return _write_whole(provider, calendar, action, reservation, data, provider_id, version)


def _write_whole(
    provider: Provider,
    calendar: str,
    action: Action,
    reservation: Reservation,
    data: Booking,
    provider_id: str,
    version: str | None,
) -> _Sent | CalendarMoved:
    """Replace or delete the object at `provider_id` if it is still at `version`;
    CalendarMoved, with what the calendar holds now, if it changed meanwhile."""
    try:
        if action == Action.delete:
            return _Sent(None, provider.cancel(calendar, provider_id, version))
        result = provider.rebook(calendar, provider_id, data, version)
    except ProviderRejected as exc:
        if not refused_as_changed(exc):
            raise
        return moved_since(provider, calendar, provider_id, version)
    return _placed_by(provider, reservation, result)


def _occurrence_edit(
    stored: StoredItem, action: Action, reservation: Reservation, now: datetime
) -> Edit:
    """The edit of someone else's object: one occurrence cancelled or moved."""
    recurrence_id = reservation.recurrence_id
    if action == Action.delete:
        assert recurrence_id is not None
        return OccurrenceCancel(recurrence_id, now)
    return OccurrenceMove(
        recurrence_id,
        reservation.start,
        reservation.end,
        reservation.subject,
        stored.item.time_zone,
        now,
    )


def _remove_landed(provider: Provider, calendar: str, reservation: Reservation) -> Exchange | None:
    """Delete calsync's create of `reservation` if it reached the calendar though calsync
    never recorded where (its run was cut short); None if there is none."""
    if not calsync_owns(reservation):
        return None
    there = _own_landed(provider, calendar, provider.locate(calendar, reservation.uid), reservation)
    if there is None:
        return None
    return provider.cancel(calendar, there.provider_id, there.version)


def _own_landed(
    provider: Provider, calendar: str, provider_id: str, reservation: Reservation
) -> RemoteChange | None:
    """The object at `provider_id` if it is calsync's own create of `reservation` (its UID)."""
    there = read_current(provider, calendar, provider_id)
    if there is None or provider.uid_of(there.data or b"") != reservation.uid:
        return None
    return there


def _create(
    provider: Provider, calendar: str, reservation: Reservation, data: Booking
) -> WriteResult:
    """Create calsync's object. One already there with its UID is its own create that
    landed before its run was cut short (a crash, a takeover): it is written over, once."""
    try:
        return provider.book(calendar, data)
    except ObjectExists as exc:
        there = read_current(provider, calendar, exc.provider_id)
        if there is None and exc.provider_id == provider.locate(calendar, reservation.uid):
            # Its place is taken by a deleted object: calsync's create landed, and it was
            # deleted in the calendar since (Google keeps a deleted event's id).
            raise _LandedThenDeleted(exc.provider_id) from exc
        if there is None or provider.uid_of(there.data or b"") != reservation.uid:
            raise
        return provider.rebook(calendar, exc.provider_id, data, there.version)


class _LandedThenDeleted(Exception):
    """calsync's create of a booking reached the calendar before its run was cut short,
    and the booking was deleted there since."""

    def __init__(self, provider_id: str) -> None:
        super().__init__(provider_id)
        self.provider_id = provider_id


def _deleted_after_landing(
    run: _Run, stored: StoredItem, reservation: Reservation, provider_id: str, sent_as: str
) -> None:
    """The calendar's word: the booking is cancelled as deleted there, and the create ends
    superseded (sending it again would fail for ever, the place being taken)."""
    with run.services.uow() as uow:
        run.hold(uow)
        placed = replace(reservation, provider_id=provider_id, provider_version=None)
        uow.reservations.set_provider_ref(stored.id, placed)
        uow.commit()
    gone = CalendarMoved(provider_id, None)
    change = apply_calendar_state(
        run.services, stored, run.event_id, gone, run.hold, frozenset({None})
    )
    why = (
        f"superseded: its create had reached the calendar as {provider_id} before its run "
        f"was cut short, and was deleted there since; calendar item {change.calendar_item_id} "
        f"applied that ({change.status}: {change.outcome})"
    )
    _finish(run, sent_as, why, reservation=None)


def _placed(reservation: Reservation, result: WriteResult) -> Reservation:
    return replace(reservation, provider_id=result.provider_id, provider_version=result.version)


def _settle(
    run: _Run,
    stored: StoredItem,
    provider: Provider,
    action: Action,
    reservation: Reservation | None,
    data: Booking | None,
    moved: CalendarMoved,
    applied: frozenset[str | None],
) -> _Sent | str:
    """The calendar changed the object since calsync applied it. calsync's own object, with
    the binding's rule `calsync`: its pending change is sent over the calendar's (which is
    recorded, not applied). Otherwise the calendar's change is applied and calsync's
    pending change is superseded: the returned text says why, for the event's response."""
    binding = stored.item.binding
    assert binding is not None
    rule = binding.conflict_resolution
    owned = reservation is not None and not _edits_in_place(reservation)
    if owned and rule == ConflictResolution.calsync:
        assert reservation is not None
        assert data is not None
        verdict = f"conflict: calsync's pending {action.value} wins (conflict_resolution = calsync)"
        for _ in range(_REBASES):
            recorded = apply_calendar_state(
                run.services, stored, run.event_id, moved, run.hold, applied, skipped=verdict
            )
            sent = _resend(provider, binding.calendar, action, reservation, data, moved)
            if isinstance(sent, _Sent):
                kept = f"calendar item {recorded.calendar_item_id} keeps the calendar's version"
                return sent._replace(exchange=_noted(sent.exchange, f"{verdict}; {kept}"))
            moved = sent  # changed again meanwhile: that version is recorded too
        raise ProviderUnavailable(
            f"{moved.provider_id} changed again each time calsync sent its change over it; "
            "tried again later"
        )
    change = apply_calendar_state(run.services, stored, run.event_id, moved, run.hold, applied)
    if owned:
        rule_text = f"conflict_resolution = {rule.value}: the calendar's change wins"
    elif action == Action.respond:
        rule_text = "the room's answer is decided again on the calendar's version"
    else:
        rule_text = "there is nothing left to edit"
    return (
        f"superseded: {moved.provider_id} was {moved.what} in the calendar after calsync last "
        f"applied it; calendar item {change.calendar_item_id} applied that change "
        f"({change.status}: {change.outcome}); {rule_text}, so calsync's {action.value} "
        "was not sent"
    )


def _resend(
    provider: Provider,
    calendar: str,
    action: Action,
    reservation: Reservation,
    data: Booking,
    moved: CalendarMoved,
) -> _Sent | CalendarMoved:
    """calsync's change sent over the calendar's version `moved`; CalendarMoved again if
    the calendar changed once more meanwhile."""
    current = moved.current
    if current is not None:
        return _write_whole(
            provider, calendar, action, reservation, data, moved.provider_id, current.version
        )
    if action == Action.delete:
        return _Sent(None, Exchange("nothing to delete: already gone", "", requests=0))
    try:
        result = _create(provider, calendar, reservation, data)
    except ProviderRejected as exc:
        if not refused_as_changed(exc):
            raise
        return CalendarMoved(moved.provider_id, read_current(provider, calendar, moved.provider_id))
    return _placed_by(provider, reservation, result)


def _noted(exchange: Exchange, note: str) -> Exchange:
    return replace(exchange, response=f"{note}\n\n{exchange.response}")


def _booking(
    stored: StoredItem, binding: CalendarBinding, reservation: Reservation, now: datetime
) -> Booking:
    return Booking(
        uid=reservation.uid,
        start=reservation.start,
        end=reservation.end,
        all_day=reservation.all_day,
        zone=stored.item.time_zone,
        subject=reservation.subject,
        organizer=reservation.organizer,
        room_address=binding.room_address,
        room_name=stored.item.name,
        sequence=reservation.sequence,
        written_at=now,
    )


def _respond(
    run: _Run,
    payload: dict[str, str],
    stored: StoredItem,
    binding: CalendarBinding,
    applied: frozenset[str | None],
    decided: bytes | None,
) -> None:
    provider_id, partstat = payload["provider_id"], payload["partstat"]
    if binding.dry_run:
        _finish(run, f"PARTSTAT={partstat} for {provider_id}", DRY_RUN, None)
        return
    request = f"PARTSTAT={partstat} of {binding.room_address} in {provider_id}"
    if not applied:
        why = f"superseded: no live reservation mirrors {provider_id} any more"
        _finish(run, request, why, None)
        return
    provider = run.services.provider(binding.connection)
    room = binding.room_address
    # An answer is written only into the version it was decided on: an older answer
    # retried after a newer one was decided must not overwrite it.
    decided_on = frozenset({payload["version"]}) if "version" in payload else applied
    answer = room_answer_of(payload, room, run.services.clock())
    if decided is not None:
        version = payload["version"]
        result = written_over(provider, binding.calendar, provider_id, version, decided, answer)
    else:
        result = based_on_applied(provider, binding.calendar, provider_id, decided_on, answer)
    if isinstance(result, CalendarMoved):
        settled = _settle(run, stored, provider, Action.respond, None, None, result, applied)
        assert isinstance(settled, str)
        _finish(run, request, settled, None)
        return
    mirrors = Mirrors(stored.id, provider_id, result.version, decided_on)
    _finish(run, result.exchange.request, result.exchange.response, None, mirrors)


def _finish(
    run: _Run,
    provider_payload: str,
    response: str,
    reservation: Reservation | None,
    mirrors: Mirrors | None = None,
    room_answer: RoomVerdict | None = None,
) -> None:
    """The event processed, and where the provider keeps what it wrote (and the room's
    answer to it, where the room decides), in one commit."""
    with run.services.uow() as uow:
        now = run.services.clock()
        # The item's writer lock first, then the event's row: a transaction holding the
        # lock never waits for an event row that this one would hold.
        if reservation is not None:
            uow.reservations.set_provider_ref(run.item_id, reservation)
            if room_answer is not None:
                uow.reservations.settle_room_answer(run.item_id, reservation.id, *room_answer, now)
        if mirrors is not None:
            uow.reservations.set_version_of(*mirrors)
        event = run.hold(uow)
        event.state, event.error = EventState.processed.value, ""
        event.provider_payload, event.response = provider_payload, response
        event.claimed_until, event.updated_at = None, now
        uow.commit()


def _keep_provider_payload(run: _Run, provider_payload: str) -> None:
    with run.services.uow() as uow:
        run.hold(uow).provider_payload = provider_payload
        uow.commit()
