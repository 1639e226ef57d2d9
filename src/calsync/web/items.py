"""The workplace items' and the connections' pages, with their health: each item's last
synchronization, how it ended, how old its delta key is, its events waiting and in error;
each connection's kind, where it points, how it authenticates (never a secret nor where
it is kept) and its health as the exchange log shows it (`GET /api/v1/connections/{name}
/health`: the same function answers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from calsync.api import connections
from calsync.api.pagination import encode, last_id
from calsync.api.services import ServicesDep
from calsync.domain.access import Permission
from calsync.store.health import delta_keys_issued_at
from calsync.store.items import StoredItem
from calsync.store.overview import LastSynchronization, item_states
from calsync.web.app import PageRoute, Visitor, page_for, render
from calsync.web.session import PATH

router = APIRouter(prefix=PATH, route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(page_for(Permission.read))]
PAGE = 50
_LIST = "workplace_items"


@dataclass(frozen=True)
class ItemHealth:
    name: str
    kind: str
    connection: str | None
    calendar: str | None
    active: bool
    last: LastSynchronization | None
    last_succeeded_at: datetime | None
    delta_key_age: timedelta | None
    events_waiting: int
    events_in_error: int


def item_health(session: Session, stored: list[StoredItem], now: datetime) -> list[ItemHealth]:
    """Each item's synchronization state, in a few queries whatever the number of items."""
    states = item_states(session, [each.id for each in stored])
    issued_at = delta_keys_issued_at(session, [each.id for each in stored if each.delta_key])
    shown = []
    for each in stored:
        state, binding = states[each.id], each.item.binding
        issued = issued_at.get(each.id)
        shown.append(
            ItemHealth(
                name=each.item.name,
                kind=each.item.kind.value,
                connection=binding.connection if binding else None,
                calendar=binding.calendar if binding else None,
                active=bool(binding and binding.active),
                last=state.last,
                last_succeeded_at=state.last_succeeded_at,
                delta_key_age=now - issued if issued else None,
                events_waiting=state.events_waiting,
                events_in_error=state.events_in_error,
            )
        )
    return shown


@router.get("/items", response_class=HTMLResponse)
def items_page(
    request: Request, services: ServicesDep, who: Reader, cursor: str | None = None
) -> Response:
    after = last_id(_LIST, cursor)
    with services.read() as uow:
        stored = uow.items.page(after, PAGE + 1)
        shown = item_health(uow.session, stored[:PAGE], services.clock())
    following = encode(_LIST, [stored[PAGE - 1].id]) if len(stored) > PAGE else None
    return render(request, "items.html", who, items=shown, next_cursor=following)


@router.get("/connections", response_class=HTMLResponse)
def connections_page(request: Request, services: ServicesDep, who: Reader) -> Response:
    shown = []
    for name in sorted(services.settings.connections):
        described = connections.show_connection(name, services)
        described["health"] = connections.connection_health(name, services)
        shown.append(described)
    return render(request, "connections.html", who, connections=shown)
