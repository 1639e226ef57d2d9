"""`/api/v1/calendar-items`: each change a calendar service reported, normalized (a new
reservation, a reservation update, a cancellation), and what applying it did. List
(newest first, filtered by item, status, kind, synchronization and time range) and show
one whole as JSON (`calsync.calendar_item/1`, with the provider payload it came with)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime

from calsync.api.auth import allow
from calsync.api.pagination import MAX_ID, CursorQuery, LimitQuery, Page, last_id, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import CalendarItem, CalendarItemSummary
from calsync.domain.access import Permission
from calsync.domain.events import CalendarItemKind, CalendarItemStatus
from calsync.exports import calendar_item_json
from calsync.store.records import RecordFilter
from calsync.store.tables import CalendarItemRow

router = APIRouter(
    prefix="/calendar-items",
    tags=["calendar items"],
    dependencies=[Depends(allow(Permission.read))],
)
_LIST = "calendar_items"


@router.get("", response_model=Page[CalendarItemSummary])
def list_calendar_items(
    services: ServicesDep,
    item: Annotated[str | None, Query(description="Only this item's.")] = None,
    status: CalendarItemStatus | None = None,
    kind: CalendarItemKind | None = None,
    synchronization: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Made by this one.")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="Created at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Created before.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Any:
    """Calendar items, newest first, without their provider payloads."""
    before = last_id(_LIST, cursor)
    with services.read() as uow:
        where = RecordFilter(
            item_id=uow.items.get(item).id if item is not None else None,
            status=status.value if status else None,
            since=since,
            until=until,
            synchronization_id=synchronization,
            limit=limit + 1,
            kind=kind.value if kind else None,
            before_id=before,
        )
        found = uow.calendar_items.find(where)
        names = uow.items.names()
    return page(_LIST, found, limit, _key, lambda row: _summary(row, names[row.item_id]))


@router.get("/{calendar_item_id}", response_model=CalendarItem)
def show_calendar_item(
    calendar_item_id: Annotated[int, Path(ge=1, le=MAX_ID)], services: ServicesDep
) -> Any:
    """One calendar item whole, with the provider payload it came with."""
    with services.read() as uow:
        row = uow.calendar_items.get(calendar_item_id)
        return calendar_item_json(row, uow.items.name_of(row.item_id))


def _key(row: CalendarItemRow) -> list[Any]:
    return [row.id]


def _summary(row: CalendarItemRow, item: str) -> dict[str, Any]:
    shown = calendar_item_json(row, item)
    shown.pop("provider_payload")
    return shown
