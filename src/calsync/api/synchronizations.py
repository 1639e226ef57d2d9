"""`/api/v1/synchronizations`: the synchronization deltas view. Each synchronization
with the delta key it started from and the one it produced, its mode, outcome and counts
(`calsync.synchronization/1`); list (newest first, by item, outcome and time range) and
show. `POST` requests a synchronization of an item: a read event is queued (or the one
already waiting is returned) and the worker runs it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from calsync.api.auth import allow
from calsync.api.pagination import MAX_ID, CursorQuery, LimitQuery, Page, last_id, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import Synchronization, SynchronizationRequested
from calsync.domain.access import Permission
from calsync.domain.synchronizations import SyncOutcome
from calsync.exports import synchronization_json
from calsync.store.records import RecordFilter
from calsync.store.tables import SynchronizationRow
from calsync.worker.runner import request_sync

router = APIRouter(prefix="/synchronizations", tags=["synchronizations"])
_LIST = "synchronizations"


class SynchronizationRequest(BaseModel):
    item: str = Field(min_length=1, description="The workplace item's name.")
    full: bool = Field(False, description="List the whole calendar, ignoring the delta key.")
    confirm_sweep: bool = Field(
        False, description="Cancel what a suspiciously small full listing left out."
    )


@router.get(
    "", dependencies=[Depends(allow(Permission.read))], response_model=Page[Synchronization]
)
def list_synchronizations(
    services: ServicesDep,
    item: Annotated[str | None, Query(description="Only this item's.")] = None,
    outcome: SyncOutcome | None = None,
    since: Annotated[AwareDatetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Started before.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Any:
    """Synchronizations with their delta keys, newest first."""
    before = last_id(_LIST, cursor)
    with services.read() as uow:
        where = RecordFilter(
            item_id=uow.items.get(item).id if item is not None else None,
            status=outcome.value if outcome else None,
            since=since,
            until=until,
            limit=limit + 1,
            before_id=before,
        )
        found = uow.synchronizations.find(where)
        names = uow.items.names()
    return page(
        _LIST, found, limit, _key, lambda row: synchronization_json(row, names[row.item_id])
    )


@router.get(
    "/{synchronization_id}",
    dependencies=[Depends(allow(Permission.read))],
    response_model=Synchronization,
)
def show_synchronization(
    synchronization_id: Annotated[int, Path(ge=1, le=MAX_ID)], services: ServicesDep
) -> Any:
    with services.read() as uow:
        row = uow.synchronizations.get(synchronization_id)
        return synchronization_json(row, uow.items.name_of(row.item_id))


@router.post(
    "",
    dependencies=[Depends(allow(Permission.operate))],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SynchronizationRequested,
)
def request_synchronization(body: SynchronizationRequest, services: ServicesDep) -> Any:
    """Queue a read of the item's calendar; the worker synchronizes it. Answers the read
    event's id (`GET /events/{id}` follows it)."""
    with services.read() as uow:
        binding = uow.items.get(body.item).item.binding
    if binding is None or not binding.active:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"workplace item {body.item!r} has no active calendar binding"
        )
    event_id = request_sync(services, body.item, body.full, body.confirm_sweep)
    return {"item": body.item, "event_id": event_id}


def _key(row: SynchronizationRow) -> list[Any]:
    return [row.id]
