"""`/api/v1/workplace-items`: the workplace items, each with its calendar binding and
where its synchronization stands (newest synchronization, delta key, waiting and failed
events). Read by viewers, and by integrations, which book them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from calsync.api.auth import allow
from calsync.api.pagination import CursorQuery, LimitQuery, Page, last_id, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import WorkplaceItem
from calsync.domain.access import Permission
from calsync.exports import workplace_item_json
from calsync.store.overview import item_states

router = APIRouter(
    prefix="/workplace-items",
    tags=["workplace items"],
    dependencies=[Depends(allow(Permission.read, Permission.reserve))],
)
ItemName = Annotated[str, Path(description="The item's name, as configured.")]


@router.get("", response_model=Page[WorkplaceItem])
def list_items(services: ServicesDep, cursor: CursorQuery = None, limit: LimitQuery = 50) -> Any:
    """The workplace items, in the order they were first stored."""
    after = last_id("workplace_items", cursor)
    with services.read() as uow:
        stored = uow.items.page(after, limit + 1)
        states = item_states(uow.session, [each.id for each in stored])
    return page(
        "workplace_items",
        stored,
        limit,
        key=lambda each: [each.id],
        show=lambda each: workplace_item_json(each, states[each.id]),
    )


@router.get("/{name}", response_model=WorkplaceItem)
def show_item(name: ItemName, services: ServicesDep) -> Any:
    """One workplace item and its synchronization state."""
    with services.read() as uow:
        stored = uow.items.get(name)
        state = item_states(uow.session, [stored.id])[stored.id]
    return workplace_item_json(stored, state)
