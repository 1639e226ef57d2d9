"""The JSON shapes of events, calendar items, synchronizations and reservations.

These shapes are a documented interface (README, "JSON exports"): keys are only added,
never renamed. Each carries `"schema"` with its name and version. No credential is ever
part of them: connections are named, never described, and adapters leave Authorization
headers out of the request texts they keep.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from calsync.domain.reservations import Reservation
from calsync.store.tables import CalendarItemRow, EventRow, SynchronizationRow

if TYPE_CHECKING:
    from calsync.store.approvals import StoredApproval
    from calsync.store.items import StoredItem
    from calsync.store.overview import ItemState
    from calsync.store.retention import Cutoffs, PurgeReport


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def event_json(row: EventRow, item: str) -> dict[str, Any]:
    return {
        "schema": "calsync.event/1",
        "id": row.id,
        "item": item,
        "action": row.action,
        "state": row.state,
        "reservation_id": row.reservation_id,
        "synchronization_id": row.synchronization_id,
        "attempts": row.attempts,
        "next_attempt_at": _when(row.next_attempt_at),
        "created_at": _when(row.created_at),
        "updated_at": _when(row.updated_at),
        "error": row.error or None,
        "payload": _json_or_text(row.payload),
        "provider_payload": row.provider_payload or None,
        "response": row.response or None,
    }


def calendar_item_json(row: CalendarItemRow, item: str) -> dict[str, Any]:
    return {
        "schema": "calsync.calendar_item/1",
        "id": row.id,
        "item": item,
        "kind": row.kind,
        "status": row.status,
        "event_id": row.event_id,
        "synchronization_id": row.synchronization_id,
        "provider_id": row.provider_id,
        "provider_version": row.provider_version,
        "created_at": _when(row.created_at),
        "applied_at": _when(row.applied_at),
        "outcome": row.outcome or None,
        "error": row.error or None,
        "provider_payload": row.provider_payload or None,
    }


def synchronization_json(row: SynchronizationRow, item: str) -> dict[str, Any]:
    return {
        "schema": "calsync.synchronization/1",
        "id": row.id,
        "item": item,
        "mode": row.mode,
        "started_at": _when(row.started_at),
        "finished_at": _when(row.finished_at),
        "delta_key_before": row.delta_key_before,
        "delta_key_after": row.delta_key_after,
        "events_created": row.events_created,
        "calendar_items_created": row.calendar_items_created,
        "outcome": row.outcome,
        "detail": row.detail or None,
        "requests": row.requests,
        "bytes_received": row.bytes_received,
    }


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    return {
        "schema": "calsync.reservation/1",
        "id": reservation.id,
        "item": reservation.item,
        "start": reservation.start.isoformat(),
        "end": reservation.end.isoformat(),
        "all_day": reservation.all_day,
        "status": reservation.status.value,
        "origin": reservation.origin.value,
        "subject": reservation.subject,
        "organizer": reservation.organizer,
        "uid": reservation.uid,
        "recurrence_id": _when(reservation.recurrence_id),
        "sequence": reservation.sequence,
        "provider_id": reservation.provider_id,
        "provider_version": reservation.provider_version,
        "reason": reservation.reason or None,
        "provider_approval": (
            reservation.provider_approval.value if reservation.provider_approval else None
        ),
        "checked_in_at": _when(reservation.checked_in_at),
        "checked_out_at": _when(reservation.checked_out_at),
        "no_show_released_at": _when(reservation.no_show_released_at),
    }


def workplace_item_json(stored: StoredItem, state: ItemState) -> dict[str, Any]:
    """A workplace item, its calendar binding (the connection by name) and where its
    synchronization stands."""
    item, binding, last = stored.item, stored.item.binding, state.last
    return {
        "schema": "calsync.workplace_item/1",
        "name": item.name,
        "kind": item.kind.value,
        "time_zone": item.time_zone,
        "capacity": item.capacity,
        "location": {
            "site": item.location.site,
            "building": item.location.building,
            "floor": item.location.floor,
        },
        "binding": None
        if binding is None
        else {
            "connection": binding.connection,
            "calendar": binding.calendar,
            "room_address": binding.room_address,
            "active": binding.active,
            "dry_run": binding.dry_run,
            "window_past_days": binding.window_past.total_seconds() / 86400,
            "window_ahead_days": binding.window_ahead.total_seconds() / 86400,
            "conflict_resolution": binding.conflict_resolution.value,
        },
        "synchronization": {
            "delta_key": stored.delta_key,
            "synchronized_at": _when(stored.synchronized_at),
            "last_succeeded_at": _when(state.last_succeeded_at),
            "last": None
            if last is None
            else {
                "id": last.id,
                "mode": last.mode,
                "outcome": last.outcome,
                "started_at": _when(last.started_at),
                "finished_at": _when(last.finished_at),
            },
            "events_waiting": state.events_waiting,
            "events_in_error": state.events_in_error,
        },
    }


def purge_json(report: PurgeReport, cutoffs: Cutoffs) -> dict[str, Any]:
    """What a purge deleted (`dry_run`: would delete), and since when each kind is kept."""
    return {
        "schema": "calsync.purge/1",
        "dry_run": report.dry_run,
        "events": report.events,
        "calendar_items": report.calendar_items,
        "synchronizations": report.synchronizations,
        "kept_since": {
            "processed": _when(cutoffs.processed),
            "error": _when(cutoffs.error),
            "synchronization": _when(cutoffs.synchronization),
        },
    }


def approval_json(stored: StoredApproval, reservation: Reservation | None = None) -> dict[str, Any]:
    """An approval request and its decision; with its reservation when given."""
    approval = stored.approval
    data: dict[str, Any] = {
        "schema": "calsync.approval/1",
        "id": stored.id,
        "reservation_id": approval.reservation,
        "rule": approval.rule,
        "performer": str(approval.performer),
        "requested_because": stored.requested_because,
        "state": approval.state.value,
        "requested_at": approval.requested_at.isoformat(),
        "expires_at": approval.expires_at.isoformat(),
        "decided_by": approval.decided_by or None,
        "decided_at": _when(approval.decided_at),
        "reason": approval.reason or None,
        "notified_at": _when(stored.notified_at),
    }
    if reservation is not None:
        data["reservation"] = reservation_json(reservation)
    return data
