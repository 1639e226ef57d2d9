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
from dataclasses import replace
from datetime import datetime

from calsync.bootstrap import Services
from calsync.domain.calendar_writing import render_reservation, with_room_partstat
from calsync.domain.events import Action, EventState
from calsync.domain.items import CalendarBinding
from calsync.domain.reservations import Reservation
from calsync.errors import ConfigError, ProviderError, ProviderRejected
from calsync.providers.base import Exchange, Provider
from calsync.store.items import StoredItem

DRY_RUN = "dry run: nothing was sent to the provider"


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
    data = _render(stored, binding, reservation, services.clock())
    if binding.dry_run:
        _finish(services, event_id, data.decode(), DRY_RUN, reservation=None)
        return
    provider = services.provider(binding.connection)
    try:
        sent = _send(provider, binding.calendar, action, reservation, data)
    except ProviderError:
        _keep_provider_payload(services, event_id, data.decode())
        raise
    _finish(services, event_id, sent[1].request, sent[1].response, reservation=sent[0])


def _send(
    provider: Provider, calendar: str, action: Action, reservation: Reservation, data: bytes
) -> tuple[Reservation | None, Exchange]:
    if action == Action.delete:
        if reservation.provider_id is None:
            return None, Exchange("nothing to delete: never sent", "", requests=0)
        exchange = provider.delete(calendar, reservation.provider_id, reservation.provider_version)
        return None, exchange
    if reservation.provider_id is None:
        result = provider.create(calendar, reservation.uid, data)
    else:
        result = provider.update(
            calendar, reservation.provider_id, data, reservation.provider_version
        )
    stored = replace(reservation, provider_id=result.provider_id, provider_version=result.version)
    return stored, result.exchange


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
    for attempt in (1, 2):
        current = provider.get(binding.calendar, provider_id)
        data = with_room_partstat(current.data or b"", binding.room_address, partstat)
        try:
            result = provider.update(binding.calendar, provider_id, data, current.version)
            break
        except ProviderRejected as exc:
            # The organizer changed the entry between our read and write: read it again.
            if exc.status != 412 or attempt == 2:
                raise
    _finish(services, event_id, result.exchange.request, result.exchange.response, None)
    _remember_version(services, stored, provider_id, result.version)


def _remember_version(
    services: Services, stored: StoredItem, provider_id: str, version: str | None
) -> None:
    with services.uow() as uow:
        uow.reservations.set_version_of(stored.id, provider_id, version)
        uow.commit()


def _finish(
    services: Services,
    event_id: int,
    provider_payload: str,
    response: str,
    reservation: Reservation | None,
) -> None:
    with services.uow() as uow:
        now = services.clock()
        event = uow.events.get(event_id)
        event.state, event.error = EventState.processed.value, ""
        event.provider_payload, event.response = provider_payload, response
        event.claimed_until, event.updated_at = None, now
        if reservation is not None:
            uow.reservations.set_provider_ref(
                reservation.id, reservation.provider_id, reservation.provider_version
            )
        uow.commit()


def _keep_provider_payload(services: Services, event_id: int, provider_payload: str) -> None:
    with services.uow() as uow:
        uow.events.get(event_id).provider_payload = provider_payload
        uow.commit()
