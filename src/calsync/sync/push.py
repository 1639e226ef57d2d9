"""`push_event(services, event_id)`: send one outbound event to the calendar service.

Outbound events come from the transactional outbox: a reservation change and its event
were written together. Sending stores the provider id and version on the reservation, so
the next read recognizes the write as our own (echo suppression). With `dry_run` on the
binding the provider payload is built and kept, and nothing is sent.

`create` on a reservation that already has a provider id becomes an update, so that
reprocessing a create that reached the provider is safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple, TypeVar

from calsync.bootstrap import Services
from calsync.domain.calendar_edits import cancel_occurrence, reschedule
from calsync.domain.calendar_writing import render_reservation, with_room_partstat
from calsync.domain.events import Action, EventState
from calsync.domain.items import CalendarBinding
from calsync.domain.reservations import Origin, Reservation
from calsync.errors import ConfigError, ProviderError, ProviderRejected
from calsync.providers.base import Exchange, Provider, WriteResult
from calsync.store.items import StoredItem

Written = TypeVar("Written")

DRY_RUN = "dry run: nothing was sent to the provider"


class Mirrors(NamedTuple):
    """Every reservation of `item_id` mirroring `provider_id` now has `version` there."""

    item_id: int
    provider_id: str
    version: str | None


def push_event(services: Services, event_id: int) -> None:
    with services.uow() as uow:
        event = uow.events.get(event_id)
        action, payload = Action(event.action), json.loads(event.payload)
        stored = uow.items.by_id(event.item_id)
        reservation = uow.reservations.get(event.reservation_id) if event.reservation_id else None
    binding = stored.item.binding
    if binding is None:
        raise ConfigError(f"item {stored.item.name!r} has no calendar binding")
    if action == Action.respond:
        _respond(services, event_id, payload, stored, binding)
        return
    assert reservation is not None, f"event {event_id} names no reservation"
    now = services.clock()
    data = _render(stored, binding, reservation, now)
    if binding.dry_run:
        _finish(services, event_id, data.decode(), DRY_RUN, reservation=None)
        return
    provider = services.provider(binding.connection)
    try:
        sent, exchange = _send(provider, stored, binding, action, reservation, data, now)
    except ProviderError:
        _keep_provider_payload(services, event_id, data.decode())
        raise
    mirrors = None
    if sent is not None and sent.provider_id is not None and _edits_in_place(reservation):
        # An edit changed the object every occurrence mirrors: all take its new version.
        mirrors = Mirrors(stored.id, sent.provider_id, sent.provider_version)
    _finish(services, event_id, exchange.request, exchange.response, sent, mirrors)


def _edits_in_place(reservation: Reservation) -> bool:
    """Someone else's meeting, or one occurrence of a series: edit, never replace it."""
    return reservation.origin == Origin.calendar or reservation.recurrence_id is not None


def _send(
    provider: Provider,
    stored: StoredItem,
    binding: CalendarBinding,
    action: Action,
    reservation: Reservation,
    data: bytes,
    now: datetime,
) -> tuple[Reservation | None, Exchange]:
    calendar, provider_id = binding.calendar, reservation.provider_id
    if action == Action.delete:
        if provider_id is None:
            return None, Exchange("nothing to delete: never sent", "", requests=0)
        if reservation.recurrence_id is not None:
            recurrence_id = reservation.recurrence_id
            edit = lambda text: cancel_occurrence(text, recurrence_id, now)  # noqa: E731
            return _edited(provider, calendar, reservation, edit)
        known = reservation.provider_version
        return None, _latest_wins(provider, calendar, provider_id, known, provider.delete)
    if provider_id is None:
        result = provider.create(calendar, reservation.uid, data)
    elif _edits_in_place(reservation):
        zone = stored.item.time_zone
        return _edited(
            provider,
            calendar,
            reservation,
            lambda text: reschedule(
                text,
                reservation.recurrence_id,
                reservation.start,
                reservation.end,
                reservation.subject,
                zone,
                now,
            ),
        )
    else:
        result = _latest_wins(
            provider,
            calendar,
            provider_id,
            reservation.provider_version,
            lambda calendar, provider_id, version: provider.update(
                calendar, provider_id, data, version
            ),
        )
    stored_ref = replace(
        reservation, provider_id=result.provider_id, provider_version=result.version
    )
    return stored_ref, result.exchange


def _latest_wins(
    provider: Provider,
    calendar: str,
    provider_id: str,
    version: str | None,
    write: Callable[[str, str, str | None], Written],
) -> Written:
    """Write our own object; if it changed at the provider meanwhile, the change made in
    calsync is the later one: write again over the version there now."""
    try:
        return write(calendar, provider_id, version)
    except ProviderRejected as exc:
        if exc.status != 412:
            raise
    return write(calendar, provider_id, provider.get(calendar, provider_id).version)


def _edit(
    provider: Provider, calendar: str, provider_id: str, edit: Callable[[bytes], bytes]
) -> WriteResult:
    """Read the object, change it, write it back only if nobody changed it meanwhile."""
    for attempt in (1, 2):
        current = provider.get(calendar, provider_id)
        try:
            return provider.update(
                calendar, provider_id, edit(current.data or b""), current.version
            )
        except ProviderRejected as exc:
            # The organizer changed the entry between our read and our write: read it again.
            if exc.status != 412 or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _edited(
    provider: Provider, calendar: str, reservation: Reservation, edit: Callable[[bytes], bytes]
) -> tuple[Reservation, Exchange]:
    assert reservation.provider_id is not None
    result = _edit(provider, calendar, reservation.provider_id, edit)
    return replace(reservation, provider_version=result.version), result.exchange


def _render(
    stored: StoredItem, binding: CalendarBinding, reservation: Reservation, now: datetime
) -> bytes:
    return render_reservation(
        uid=reservation.uid,
        start=reservation.start,
        end=reservation.end,
        all_day=reservation.all_day,
        zone=stored.item.time_zone,
        summary=reservation.subject,
        organizer=reservation.organizer,
        room_address=binding.room_address,
        room_name=stored.item.name,
        sequence=reservation.sequence,
        partstat="ACCEPTED",
        dtstamp=now,
    )


def _respond(
    services: Services,
    event_id: int,
    payload: dict[str, str],
    stored: StoredItem,
    binding: CalendarBinding,
) -> None:
    provider_id, partstat = payload["provider_id"], payload["partstat"]
    if binding.dry_run:
        _finish(services, event_id, f"PARTSTAT={partstat} for {provider_id}", DRY_RUN, None)
        return
    provider = services.provider(binding.connection)
    room = binding.room_address
    result = _edit(
        provider,
        binding.calendar,
        provider_id,
        lambda data: with_room_partstat(data, room, partstat),
    )
    mirrors = Mirrors(stored.id, provider_id, result.version)
    _finish(services, event_id, result.exchange.request, result.exchange.response, None, mirrors)


def _finish(
    services: Services,
    event_id: int,
    provider_payload: str,
    response: str,
    reservation: Reservation | None,
    mirrors: Mirrors | None = None,
) -> None:
    """The event processed, and where the provider keeps what it wrote, in one commit."""
    with services.uow() as uow:
        now = services.clock()
        event = uow.events.get(event_id)
        # The item's writer lock first, then the event's row: a transaction holding the
        # lock never waits for an event row that this one would hold.
        if reservation is not None:
            uow.reservations.set_provider_ref(event.item_id, reservation)
        if mirrors is not None:
            uow.reservations.set_version_of(*mirrors)
        event.state, event.error = EventState.processed.value, ""
        event.provider_payload, event.response = provider_payload, response
        event.claimed_until, event.updated_at = None, now
        uow.commit()


def _keep_provider_payload(services: Services, event_id: int, provider_payload: str) -> None:
    with services.uow() as uow:
        uow.events.get(event_id).provider_payload = provider_payload
        uow.commit()
