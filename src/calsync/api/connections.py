"""`/api/v1/connections`: the connections of the configuration (kind, where they point,
how they authenticate, the items bound to them; never a secret nor where it is kept),
each one's health as the exchange log shows it, and a live test (`POST .../test`: the
credentials and each bound calendar, one cheap request each)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from calsync.api.auth import allow
from calsync.api.pagination import CursorQuery, LimitQuery, Page, decode, not_a_cursor, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import Connection, ConnectionHealth, ConnectionTested
from calsync.bootstrap import Services
from calsync.domain.access import Permission
from calsync.domain.synchronizations import SyncOutcome
from calsync.errors import NotFound
from calsync.store.overview import ItemState, item_states, provider_errors
from calsync.sync.connections import authentication, bound_calendars, check_connection

router = APIRouter(prefix="/connections", tags=["connections"])
readers = [Depends(allow(Permission.read))]
_LIST = "connections"
_FAILED = (SyncOutcome.failed.value, SyncOutcome.needs_confirmation.value)
ConnectionName = Annotated[str, Path(description="The connection's name in the configuration.")]


@router.get("", dependencies=readers, response_model=Page[Connection])
def list_connections(
    services: ServicesDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> Any:
    """The connections, by name."""
    key = decode(_LIST, cursor)
    if key is not None and (len(key) != 1 or not isinstance(key[0], str)):
        raise not_a_cursor(_LIST)
    names = sorted(services.settings.connections)
    after = [name for name in names if key is None or name > key[0]]
    return page(
        _LIST, after[: limit + 1], limit, lambda name: [name], lambda name: _shown(services, name)
    )


@router.get("/{name}", dependencies=readers, response_model=Connection)
def show_connection(name: ConnectionName, services: ServicesDep) -> Any:
    return _shown(services, name)


@router.get("/{name}/health", dependencies=readers, response_model=ConnectionHealth)
def connection_health(name: ConnectionName, services: ServicesDep) -> Any:
    """From the exchange log, without calling the service: each bound item's newest
    synchronization, how long since one succeeded, and its events failing on the
    provider now (throttling included). `status`: `ok`, `failing` or `unknown` (never
    synchronized)."""
    _known(services, name)
    now = services.clock()
    bound = [item for item, _ in bound_calendars(services.settings, name)]
    with services.read() as uow:
        ids = {uow.items.get(item).id: item for item in bound}
        states = item_states(uow.session, ids)
        errors = provider_errors(uow.session)
    items = [
        _item_health(item, states[item_id], errors, item_id, now) for item_id, item in ids.items()
    ]
    statuses = {entry["status"] for entry in items}
    overall = next((s for s in ("failing", "unknown") if s in statuses), "ok")
    return {"connection": name, "status": overall, "items": items}


@router.post(
    "/{name}/test",
    dependencies=[Depends(allow(Permission.operate))],
    response_model=ConnectionTested,
)
def test_connection(name: ConnectionName, services: ServicesDep) -> Any:
    """Prove the credentials and each bound calendar now; `ok` says whether all held."""
    _known(services, name)
    return check_connection(services.settings, name).as_json()


def _known(services: Services, name: str) -> None:
    if name not in services.settings.connections:
        raise NotFound(f"no connection named {name!r} in the configuration")


def _shown(services: Services, name: str) -> dict[str, Any]:
    _known(services, name)
    connection = services.settings.connection(name)
    return {
        "name": name,
        "kind": connection.kind,
        "url": connection.url,
        "authentication": authentication(connection),
        "items": [item for item, _ in bound_calendars(services.settings, name)],
    }


def _item_health(
    item: str,
    state: ItemState,
    errors: dict[tuple[int, str], int],
    item_id: int,
    now: datetime,
) -> dict[str, Any]:
    failing = {kind: count for (of, kind), count in errors.items() if of == item_id}
    last = state.last
    if last is None:
        status = "unknown"
    elif failing or last.outcome in _FAILED:
        status = "failing"
    else:
        status = "ok"
    since = state.last_succeeded_at
    return {
        "item": item,
        "status": status,
        "last_outcome": last.outcome if last else None,
        "last_started_at": last.started_at.isoformat() if last else None,
        "last_succeeded_at": since.isoformat() if since else None,
        "lag_seconds": (now - since).total_seconds() if since else None,
        "events_in_error": state.events_in_error,
        "provider_errors": failing,
    }
