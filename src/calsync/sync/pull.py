"""`synchronize(services, event_id)`: pull one item's calendar changes since its delta key.

1. Ask the provider for the changes since the stored delta key. An expired key
   (`DeltaKeyExpired`) turns into a full listing of the calendar.
2. In ONE transaction (`_record`): the read event's request and response, one calendar
   item per change, the synchronization record and the new delta key. A crash before
   this commit loses nothing: the key has not moved, so the next run reads the same
   changes again, and applying them again changes nothing.
3. A full listing is compared with what came from this calendar (mark and sweep); a
   listing that looks like data loss withholds the sweep and the key until an admin
   confirms (`plan_sweep`).

Applying the calendar items is `calsync.sync.apply`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calsync.bootstrap import Services
from calsync.domain.events import CalendarItemKind, CalendarItemStatus, EventState
from calsync.domain.synchronizations import (
    SweepNeedsConfirmation,
    SyncMode,
    SyncOutcome,
    plan_sweep,
)
from calsync.errors import ConfigError, DeltaKeyExpired, ProviderError
from calsync.providers.base import ChangeBatch, ChangesSeen, RemoteChange
from calsync.store.items import StoredItem
from calsync.store.tables import SynchronizationRow
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.reading import stored_payload

Known = dict[str, set[str | None]]


@dataclass(frozen=True)
class SyncResult:
    synchronization_id: int
    mode: SyncMode
    outcome: SyncOutcome
    calendar_items: int
    detail: str = ""


def synchronize(
    services: Services,
    event_id: int,
    full: bool = False,
    confirm_sweep: bool = False,
    on_changes: ChangesSeen | None = None,
) -> SyncResult:
    """Read the item's calendar and record what it reported; `on_changes` sees pages early."""
    with services.uow() as uow:
        stored = uow.items.by_id(uow.events.get(event_id).item_id)
    binding = stored.item.binding
    if binding is None or not binding.active:
        raise ConfigError(f"item {stored.item.name!r} has no active calendar binding")
    provider = services.provider(binding.connection)
    started = services.clock()
    key_before = None if full else stored.delta_key
    detail = ""
    try:
        try:
            batch = provider.fetch_changes(binding.calendar, key_before, on_changes)
        except DeltaKeyExpired:
            detail = "delta key expired: full synchronization"
            batch = provider.fetch_changes(binding.calendar, None, on_changes)
    except ProviderError as exc:
        _record_failure(services, event_id, stored, key_before, started, exc)
        raise
    return _record(services, event_id, stored, batch, key_before, started, detail, confirm_sweep)


def _record(
    services: Services,
    event_id: int,
    stored: StoredItem,
    batch: ChangeBatch,
    key_before: str | None,
    started: datetime,
    detail: str,
    confirm_sweep: bool,
) -> SyncResult:
    now = services.clock()
    with services.uow() as uow:
        seen = None if batch.full else {change.provider_id for change in batch.changes}
        known = uow.reservations.known_versions(stored.id, seen)
        rows = [c for change in batch.changes if (c := _calendar_item(change, known, batch.full))]
        outcome, key_after = SyncOutcome.succeeded, batch.delta_key
        if batch.full:
            listed = {change.provider_id for change in batch.changes if not change.removed}
            sweep = plan_sweep(listed, set(known), confirm_sweep)
            if isinstance(sweep, SweepNeedsConfirmation):
                outcome, key_after, detail = SyncOutcome.needs_confirmation, key_before, str(sweep)
            else:
                gone = sorted(sweep.gone)
                rows += [
                    _cancellation(provider_id, "not in the full listing") for provider_id in gone
                ]
        synchronization = uow.synchronizations.add(
            SynchronizationRow(
                item_id=stored.id,
                started_at=started,
                finished_at=now,
                mode=(SyncMode.full if batch.full else SyncMode.incremental).value,
                delta_key_before=key_before,
                delta_key_after=key_after,
                events_created=1,
                calendar_items_created=len(rows),
                outcome=outcome.value,
                detail=detail,
                requests=batch.exchange.requests,
                bytes_received=batch.exchange.bytes_received,
            )
        )
        _finish_read_event(uow, event_id, synchronization.id, batch, now)
        common = {"item_id": stored.id, "event_id": event_id, "created_at": now}
        uow.calendar_items.add_many(
            [row | common | {"synchronization_id": synchronization.id} for row in rows]
        )
        uow.items.set_delta_key(stored.id, key_after)
        uow.items.mark_synchronized(stored.id, now)
        uow.commit()
    mode = SyncMode.full if batch.full else SyncMode.incremental
    return SyncResult(synchronization.id, mode, outcome, len(rows), detail)


def _calendar_item(change: RemoteChange, known: Known, full: bool) -> dict[str, Any] | None:
    versions = known.get(change.provider_id)
    if change.removed:
        # A removal of something we never held (added and removed between two reads) is no change.
        return _cancellation(change.provider_id, "deleted in the calendar") if versions else None
    if versions and change.version in versions:
        # Our own write coming back, or (in a full listing) an entry that did not change.
        return (
            None
            if full
            else _row(change, CalendarItemKind.reservation_update, "echo of our own write")
        )
    kind = CalendarItemKind.reservation_update if versions else CalendarItemKind.new_reservation
    return _row(change, kind, "")


def _row(change: RemoteChange, kind: CalendarItemKind, skipped: str) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "status": (CalendarItemStatus.skipped if skipped else CalendarItemStatus.pending).value,
        "provider_id": change.provider_id,
        "provider_version": change.version,
        "provider_payload": stored_payload(change.data),
        "outcome": skipped,
        "error": "",
    }


def _cancellation(provider_id: str, why: str) -> dict[str, Any]:
    return {
        "kind": CalendarItemKind.cancellation.value,
        "status": CalendarItemStatus.pending.value,
        "provider_id": provider_id,
        "provider_version": None,
        "provider_payload": "",
        "outcome": why,
        "error": "",
    }


def _finish_read_event(
    uow: UnitOfWork, event_id: int, synchronization_id: int, batch: ChangeBatch, now: datetime
) -> None:
    event = uow.events.get(event_id)
    event.state = EventState.processed.value
    event.synchronization_id = synchronization_id
    event.provider_payload = batch.exchange.request
    event.response = batch.exchange.response
    event.error, event.claimed_until, event.updated_at = "", None, now


def _record_failure(
    services: Services,
    event_id: int,
    stored: StoredItem,
    key_before: str | None,
    started: datetime,
    error: ProviderError,
) -> None:
    with services.uow() as uow:
        synchronization = uow.synchronizations.add(
            SynchronizationRow(
                item_id=stored.id,
                started_at=started,
                finished_at=services.clock(),
                mode=(SyncMode.incremental if key_before else SyncMode.full).value,
                delta_key_before=key_before,
                delta_key_after=key_before,
                events_created=1,
                calendar_items_created=0,
                outcome=SyncOutcome.failed.value,
                detail=f"{type(error).__name__}: {error}",
            )
        )
        uow.events.get(event_id).synchronization_id = synchronization.id
        uow.items.mark_synchronized(stored.id, started)
        uow.commit()
