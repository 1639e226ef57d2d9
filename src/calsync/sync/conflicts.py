"""When the calendar changed an object behind calsync's back: `CalendarMoved`,
`based_on_applied` and `apply_calendar_state`.

Every write calsync makes into a calendar object is based on the version it last applied
(DESIGN.md, invariant 5). A write that finds another version there (a failed `If-Match`,
a read showing another version, or the object gone) writes nothing and returns
`CalendarMoved`. What the calendar holds now is then recorded as a calendar item (a
reservation update, or a cancellation when the object is gone) and applied at once,
decided under the item's writer lock like any other: the new slot may clash, and the room
answers anew. The outbound event that met the change is settled by `calsync.sync.push`
with the binding's conflict rule.

Only a version calsync produced from a state it had applied is stored as its own (and so
later read back as an echo): a room answer or an occurrence edit written over a version
calsync never applied would hide the organizer's change inside "our" version.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from calsync.bootstrap import Services
from calsync.domain.events import CalendarItemKind, CalendarItemStatus
from calsync.errors import ProviderRejected
from calsync.providers.base import Edit, Provider, RemoteChange, WriteResult
from calsync.store.items import StoredItem
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.apply import apply_now
from calsync.sync.reading import stored_payload

#: The statuses of a write refused because the object is not the version it was based on.
CHANGED_MEANWHILE = frozenset({404, 410, 412})


@dataclass(frozen=True)
class CalendarMoved:
    """The calendar holds another version of `provider_id` than the one calsync based its
    write on; `current` is what it holds now, None when the object is gone."""

    provider_id: str
    current: RemoteChange | None

    @property
    def what(self) -> str:
        return "deleted" if self.current is None else "changed"


@dataclass(frozen=True)
class AppliedChange:
    """The calendar item that carried the calendar's change, and what applying it did."""

    calendar_item_id: int
    status: str
    outcome: str


def _version(current: RemoteChange | None) -> str | None:
    return None if current is None else current.version


def read_current(provider: Provider, calendar: str, provider_id: str) -> RemoteChange | None:
    """The object as the calendar holds it now; None when it is gone."""
    try:
        return provider.get(calendar, provider_id)
    except ProviderRejected as exc:
        if exc.status in (404, 410):
            return None
        raise


def refused_as_changed(exc: ProviderRejected) -> bool:
    return exc.status in CHANGED_MEANWHILE


def based_on_applied(
    provider: Provider,
    calendar: str,
    provider_id: str,
    applied: Collection[str | None],
    edit: Edit,
) -> WriteResult | CalendarMoved:
    """Edit an object calsync does not wholly own (a room answer, an occurrence edit),
    only if it is still at a version calsync applied; the adapter writes it on that
    version's condition (an edit that leaves nothing deletes the object, alike)."""
    current = read_current(provider, calendar, provider_id)
    if current is None or current.version not in applied:
        return CalendarMoved(provider_id, current)
    if current.version is None:
        raise ProviderRejected(
            f"{provider_id}: the server gives no version (ETag) of it, so calsync cannot "
            "write into it without risking to overwrite a change made meanwhile"
        )
    try:
        return provider.edit(calendar, provider_id, current.version, current.data, edit)
    except ProviderRejected as exc:
        if not refused_as_changed(exc):
            raise
    return moved_since(provider, calendar, provider_id, current.version)


def written_over(
    provider: Provider,
    calendar: str,
    provider_id: str,
    version: str,
    data: bytes,
    edit: Edit,
) -> WriteResult | CalendarMoved:
    """Edit the version calsync decided on, as it read it then (`data`), without reading
    it again (one request instead of two); the version's condition refuses the write if
    it changed since."""
    try:
        return provider.edit(calendar, provider_id, version, data, edit)
    except ProviderRejected as exc:
        if not refused_as_changed(exc):
            raise
    return moved_since(provider, calendar, provider_id, version)


def moved_since(
    provider: Provider, calendar: str, provider_id: str, version: str | None
) -> CalendarMoved:
    """What refused a conditional write on `version`: the object as it is now."""
    again = read_current(provider, calendar, provider_id)
    if again is not None and again.version == version:
        raise ProviderRejected(
            f"{provider_id}: the server refused If-Match on the version {version} "
            "it reports itself; calsync does not write into it unconditionally"
        )
    return CalendarMoved(provider_id, again)  # changed between our read and our write


def apply_calendar_state(
    services: Services,
    stored: StoredItem,
    event_id: int,
    moved: CalendarMoved,
    hold: Callable[[UnitOfWork], object],
    based_on: Collection[str | None],
    skipped: str = "",
) -> AppliedChange:
    """Record what the calendar holds now as a calendar item of `event_id` and apply it at
    once, as the calendar's current state (whatever its SEQUENCE); with `skipped` (the
    reason), record it without applying it. `hold` checks, in the transaction that
    records it, that the run still holds its event. `based_on`: the versions the write
    was based on; a read that applied another version meanwhile applied something at
    least as new, and this one is then only recorded."""
    current = moved.current
    kind = CalendarItemKind.cancellation if current is None else CalendarItemKind.reservation_update
    with services.uow() as uow:
        hold(uow)
        known = uow.reservations.known_versions(stored.id, [moved.provider_id])
        moved_on = known.get(moved.provider_id, set()) - set(based_on) - {_version(current)}
        if moved_on and not skipped:
            skipped = "a read applied a newer version of it meanwhile"
        status = CalendarItemStatus.skipped if skipped else CalendarItemStatus.pending
        row = {
            "item_id": stored.id,
            "event_id": event_id,
            "synchronization_id": None,
            "kind": kind.value,
            "status": status.value,
            "provider_id": moved.provider_id,
            "provider_version": _version(current),
            "provider_payload": "" if current is None else stored_payload(current.data),
            "outcome": skipped or f"{moved.what} in the calendar",
            "error": "",
            "created_at": services.clock(),
        }
        calendar_item_id = uow.calendar_items.add(row)
        uow.commit()
    if not skipped:
        apply_now(services, stored, [calendar_item_id], authoritative=True)
    with services.read() as uow:
        item = uow.calendar_items.get(calendar_item_id)
        return AppliedChange(calendar_item_id, item.status, item.error or item.outcome)
