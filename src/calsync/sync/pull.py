"""`synchronize(services, event_id)`: pull one item's calendar changes since its delta key.

1. A synchronization opens as `running` (one still `running` for the item was cut short by
   a crash: it becomes `interrupted`).
2. The provider is asked for the changes since the stored delta key. An expired key
   (`DeltaKeyExpired`) turns into a full listing of the calendar.
3. Each page of changes commits as one calendar item per change as soon as it arrives
   (`_Recording.page`), so that it can be applied while the provider sends the next page
   (`on_recorded`).
4. The last transaction (`_Recording.finish`) holds the read event's request and response,
   the calendar items no page carried (removals, the sweep), the synchronization's figures
   and the new delta key. The key advances only with the calendar items it covers: a crash
   before this commit leaves it where it was, so the next run reads the same changes
   again, and applying them again changes nothing (a version already held is not recorded
   twice in a full listing; a reservation is found again by its UID).
5. A full listing is compared with what came from this calendar (mark and sweep); a
   listing that looks like data loss withholds the sweep and the key until an admin
   confirms (`plan_sweep`).

Every commit of a read first checks that the run still holds its event (`hold`, the
fencing token of its `Claim`): a run that stalled past its lease and lost the event to
another worker commits no page, no figure and no delta key (`ClaimLost`).

Applying the calendar items is `calsync.sync.apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from calsync.bootstrap import Services
from calsync.domain.events import CalendarItemKind, CalendarItemStatus, EventState
from calsync.domain.synchronizations import (
    SweepNeedsConfirmation,
    SyncMode,
    SyncOutcome,
    plan_sweep,
)
from calsync.errors import ConfigError, DeltaKeyExpired, ProviderError, ProviderRejected
from calsync.providers.base import ChangeBatch, RemoteChange, credentials_refused
from calsync.store.items import StoredItem
from calsync.store.records import Claim
from calsync.store.tables import SynchronizationRow
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.reading import stored_payload

Known = dict[str, set[str | None]]

#: Called once a page's calendar items are committed, with the page and the id of the
#: newest calendar item recorded so far (what may be applied while the read goes on).
PageRecorded = Callable[[Sequence[RemoteChange], int], None]


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
    on_recorded: PageRecorded | None = None,
    claim: Claim | None = None,
) -> SyncResult:
    """Read the item's calendar and record what it reported, page by page, each commit
    fenced by `claim` (by default, the claim the event holds now)."""
    with services.uow() as uow:
        event = uow.events.get(event_id)
        stored = uow.items.by_id(event.item_id)
        claim = claim or Claim.of(event)
    binding = stored.item.binding
    if binding is None or not binding.active:
        raise ConfigError(f"item {stored.item.name!r} has no active calendar binding")
    provider = services.provider(binding.connection)
    key_before = None if full else stored.delta_key
    recording = _Recording(services, claim, stored, key_before, on_recorded, repair=full)
    detail = ""
    try:
        try:
            batch = provider.fetch_changes(
                binding.calendar, key_before, recording.page, since=recording.since
            )
        except DeltaKeyExpired:
            detail = "delta key expired: full synchronization"
            recording.full_listing()
            batch = provider.fetch_changes(
                binding.calendar, None, recording.page, since=recording.since
            )
    except ProviderError as exc:
        failure = (
            credentials_refused(exc, binding.connection)
            if isinstance(exc, ProviderRejected)
            else exc
        )
        recording.fail(failure)
        if failure is exc:
            raise
        raise failure from exc
    return recording.finish(batch, detail, confirm_sweep)


class _Recording:
    """One synchronization being recorded: opened, fed page by page, then finished."""

    def __init__(
        self,
        services: Services,
        claim: Claim,
        stored: StoredItem,
        key_before: str | None,
        on_recorded: PageRecorded | None,
        repair: bool = False,
    ) -> None:
        self.services, self.claim, self.stored = services, claim, stored
        self.event_id = claim.event_id
        self.lease = timedelta(seconds=services.settings.sync.lease_seconds)
        # A full synchronization asked for: every listed object is applied again, whatever
        # version calsync recorded for it, so that any divergence is repaired.
        self.repair = repair
        self.key_before, self.on_recorded = key_before, on_recorded
        self.started = services.clock()
        binding = stored.item.binding
        #: Where the synchronization window opens: a full listing may start there.
        self.since = self.started - (binding.window_past if binding else timedelta(days=30))
        self.full = key_before is None
        self.recorded = 0
        self._paged: set[tuple[str, str | None, bool]] = set()
        self._known_all: Known | None = None
        with services.uow() as uow:
            self._hold(uow)
            uow.synchronizations.interrupt_running(stored.id, self.started)
            synchronization = uow.synchronizations.add(
                SynchronizationRow(
                    item_id=stored.id,
                    started_at=self.started,
                    mode=(SyncMode.full if self.full else SyncMode.incremental).value,
                    delta_key_before=key_before,
                    delta_key_after=key_before,
                    events_created=1,
                    calendar_items_created=0,
                    outcome=SyncOutcome.running.value,
                    detail="",
                )
            )
            uow.events.get(self.event_id).synchronization_id = synchronization.id
            # Taking over a read cut short: what it recorded from the same key is not
            # recorded twice (its calendar items are applied like any pending one).
            self._resumed = (
                set()
                if repair
                else uow.synchronizations.recorded_by_interrupted(stored.id, key_before)
            )
            if self.full:
                self._known_all = uow.reservations.known_versions(stored.id)
            uow.commit()
        self.synchronization_id = synchronization.id

    def full_listing(self) -> None:
        """The delta key expired: what follows is a full listing."""
        self.full = True
        with self.services.uow() as uow:
            self._known_all = uow.reservations.known_versions(self.stored.id)

    def page(self, changes: Sequence[RemoteChange]) -> None:
        """Commit one calendar item per change of a page that just arrived."""
        with self.services.uow() as uow:
            self._hold(uow)
            rows = self._rows(uow, changes)
            self._add(uow, rows)
            last_id = uow.calendar_items.last_id(self.stored.id)
            uow.commit()
        self._paged.update(_key(change) for change in changes)
        if self.on_recorded is not None and last_id is not None:
            self.on_recorded(changes, last_id)

    def finish(self, batch: ChangeBatch, detail: str, confirm_sweep: bool) -> SyncResult:
        """The last transaction: what no page carried, the sweep, the figures, the key."""
        now = self.services.clock()
        mode = SyncMode.full if batch.full else SyncMode.incremental
        outcome, key_after = SyncOutcome.succeeded, batch.delta_key
        with self.services.uow() as uow:
            self._hold(uow)
            rest = [change for change in batch.changes if _key(change) not in self._paged]
            rows = self._rows(uow, rest, batch.full)
            if batch.full:
                listed = {change.provider_id for change in batch.changes if not change.removed}
                guard = self.services.settings.sync.sweep_guard()
                # What ended before the window opened may be left out of a full listing
                # (`since`): it is history, never swept.
                current = uow.reservations.known_versions(self.stored.id, ending_after=self.since)
                sweep = plan_sweep(listed, set(current), confirm_sweep, guard)
                if isinstance(sweep, SweepNeedsConfirmation):
                    outcome, key_after, detail = (
                        SyncOutcome.needs_confirmation,
                        self.key_before,
                        str(sweep),
                    )
                else:
                    rows += [
                        _cancellation(gone, "not in the full listing")
                        for gone in sorted(sweep.gone)
                    ]
            self._add(uow, rows)
            synchronization = uow.synchronizations.get(self.synchronization_id)
            synchronization.finished_at, synchronization.mode = now, mode.value
            synchronization.delta_key_after, synchronization.outcome = key_after, outcome.value
            synchronization.calendar_items_created = self.recorded
            synchronization.detail = detail
            synchronization.requests = batch.exchange.requests
            synchronization.bytes_received = batch.exchange.bytes_received
            _finish_read_event(uow, self.event_id, self.synchronization_id, batch, now)
            uow.items.set_delta_key(self.stored.id, key_after)
            uow.items.mark_synchronized(self.stored.id, now)
            uow.commit()
        return SyncResult(self.synchronization_id, mode, outcome, self.recorded, detail)

    def fail(self, error: ProviderError) -> None:
        """The provider failed: the synchronization says why; the key stays."""
        with self.services.uow() as uow:
            self._hold(uow)
            synchronization = uow.synchronizations.get(self.synchronization_id)
            synchronization.finished_at = self.services.clock()
            synchronization.outcome = SyncOutcome.failed.value
            synchronization.detail = f"{type(error).__name__}: {error}"
            synchronization.calendar_items_created = self.recorded
            uow.items.mark_synchronized(self.stored.id, self.started)
            uow.commit()

    def _hold(self, uow: UnitOfWork) -> None:
        """The fence: this run still holds its event, or `ClaimLost` and nothing commits."""
        uow.events.hold(self.claim, self.services.clock(), self.lease)

    def _rows(
        self, uow: UnitOfWork, changes: Sequence[RemoteChange], full: bool | None = None
    ) -> list[dict[str, Any]]:
        full = self.full if full is None else full
        known = (
            self._known(uow)
            if full
            else uow.reservations.known_versions(
                self.stored.id, {change.provider_id for change in changes}
            )
        )
        return [
            row
            for change in changes
            if _key(change) not in self._resumed
            and (row := _calendar_item(change, known, full, self.repair))
        ]

    def _known(self, uow: UnitOfWork) -> Known:
        if self._known_all is None:
            self._known_all = uow.reservations.known_versions(self.stored.id)
        return self._known_all

    def _add(self, uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
        common = {
            "item_id": self.stored.id,
            "event_id": self.event_id,
            "synchronization_id": self.synchronization_id,
            "created_at": self.services.clock(),
        }
        uow.calendar_items.add_many([row | common for row in rows])
        self.recorded += len(rows)


def _key(change: RemoteChange) -> tuple[str, str | None, bool]:
    return (change.provider_id, change.version, change.removed)


def _calendar_item(
    change: RemoteChange, known: Known, full: bool, repair: bool = False
) -> dict[str, Any] | None:
    if change.refused:
        refused = _row(change, CalendarItemKind.new_reservation, "")
        return refused | {"status": CalendarItemStatus.failed.value, "error": change.refused}
    versions = known.get(change.provider_id)
    if change.removed:
        # A removal of something we never held (added and removed between two reads) is no change.
        return _cancellation(change.provider_id, "deleted in the calendar") if versions else None
    if versions and change.version in versions and not repair:
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
