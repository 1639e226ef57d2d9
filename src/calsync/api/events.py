"""`/api/v1/events`: the exchange log. List (newest first, filtered by item, direction,
action, state and time range), show one whole as JSON (`calsync.event/1`: payload,
provider payload, response), and reprocess one or many events in error.

A list shows each event without its three payloads (they can be large); `GET
/events/{id}` has them. Reprocessing puts an event in error back to `new`, keeping its
payloads (`calsync.sync.reprocess`); one not in error is left as it is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from calsync.api.auth import allow
from calsync.api.pagination import MAX_ID, CursorQuery, LimitQuery, Page, last_id, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import Event, EventSummary, Reprocessed, ReprocessedMany
from calsync.domain.access import Permission
from calsync.domain.events import OUTBOUND, Action, EventState
from calsync.exports import event_json
from calsync.store.records import RecordFilter
from calsync.store.tables import EventRow
from calsync.sync.reprocess import reprocess, reprocess_failed

router = APIRouter(prefix="/events", tags=["events"])
readers = [Depends(allow(Permission.read))]
operators = [Depends(allow(Permission.operate))]
EventId = Annotated[int, Path(description="The event's id.", ge=1, le=MAX_ID)]
_LIST = "events"
_PAYLOADS = ("payload", "provider_payload", "response")
#: How many events one request may reprocess.
MAX_REPROCESS = 1000


class Direction(StrEnum):
    """inbound: what calsync asked or was told (read, notify, retrieve_attendees);
    outbound: what it wrote (create, update, delete, respond)."""

    inbound = "inbound"
    outbound = "outbound"


class ReprocessMany(BaseModel):
    """Either `ids`, or filters choosing the events in error to reprocess."""

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, min_length=1, max_length=MAX_REPROCESS
    )
    item: str | None = None
    action: Action | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(200, ge=1, le=MAX_REPROCESS)

    @model_validator(mode="after")
    def _ids_or_filters(self) -> ReprocessMany:
        filtered = any(v is not None for v in (self.item, self.action, self.since, self.until))
        if self.ids is not None and filtered:
            raise ValueError("give ids, or filters (item, action, since, until), not both")
        return self


def actions_of(direction: Direction | None, action: Action | None) -> tuple[str, ...]:
    if direction is None:
        return ()
    outbound = {a.value for a in OUTBOUND}
    chosen = outbound if direction == Direction.outbound else {a.value for a in Action} - outbound
    return tuple(sorted(chosen)) if action is None else tuple(sorted(chosen & {action.value}))


@router.get("", dependencies=readers, response_model=Page[EventSummary])
def list_events(
    services: ServicesDep,
    item: Annotated[str | None, Query(description="Only this item's.")] = None,
    direction: Direction | None = None,
    action: Action | None = None,
    status: Annotated[EventState | None, Query(description="The event's state.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Created at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Created before.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Any:
    """Events, newest first, without their payloads."""
    before = last_id(_LIST, cursor)
    actions = actions_of(direction, action)
    if direction is not None and not actions:
        return {"results": [], "next_cursor": None}  # e.g. an outbound read: none exist
    with services.read() as uow:
        where = RecordFilter(
            item_id=uow.items.get(item).id if item is not None else None,
            status=status.value if status else None,
            action=action.value if action else None,
            since=since,
            until=until,
            limit=limit + 1,
            actions=actions,
            before_id=before,
        )
        found = uow.events.find(where)
        names = uow.items.names()
    return page(_LIST, found, limit, _key, lambda row: _summary(row, names[row.item_id]))


@router.get("/{event_id}", dependencies=readers, response_model=Event)
def show_event(event_id: EventId, services: ServicesDep) -> Any:
    """One event whole: payload, provider payload and response (`calsync.event/1`)."""
    with services.read() as uow:
        row = uow.events.get(event_id)
        return event_json(row, uow.items.name_of(row.item_id))


@router.post("/{event_id}/reprocess", dependencies=operators, response_model=Reprocessed)
def reprocess_event(event_id: EventId, services: ServicesDep, request: Request) -> Any:
    """Queue an event in error again; `reprocessed` is false if it was not in error."""
    queued = reprocess(services, event_id)
    if queued:
        _past_days_changed(request)
    return {"id": event_id, "reprocessed": queued}


@router.post("/reprocess", dependencies=operators, response_model=ReprocessedMany)
def reprocess_events(body: ReprocessMany, services: ServicesDep, request: Request) -> Any:
    """Queue again the events in error among `ids`, or those the filters choose."""
    if body.ids is not None:
        with services.read() as uow:
            for event_id in body.ids:
                uow.events.get(event_id)  # 404 for an unknown id, before any is queued
        queued = [event_id for event_id in dict.fromkeys(body.ids) if reprocess(services, event_id)]
    else:
        with services.read() as uow:
            item_id = uow.items.get(body.item).id if body.item is not None else None
        where = RecordFilter(
            item_id=item_id,
            action=body.action.value if body.action else None,
            since=body.since,
            until=body.until,
            limit=body.limit,
        )
        queued = reprocess_failed(services, where)
    if queued:
        _past_days_changed(request)
    return {"reprocessed": queued}


def _past_days_changed(request: Request) -> None:
    """An event left its day's errors: the dashboard of this process reads the closed
    days again, as after a reprocess from the admin pages."""
    kept = getattr(request.app.state, "dashboard_history", None)
    if kept is not None:
        kept.drop()


def _key(row: EventRow) -> list[Any]:
    return [row.id]


def _summary(row: EventRow, item: str) -> dict[str, Any]:
    shown = event_json(row, item)
    for key in _PAYLOADS:
        shown.pop(key)
    return shown
