"""The exchange log's pages: events, calendar items and synchronization deltas, each
filtered and paged as the API's lists are (newest first, keyset cursors: the same
functions answer), and one event or calendar item whole, its JSON pretty-printed. An
event in error has a Reprocess button (admins): it is queued again and run at once, as
`calsync events reprocess` does, and the page shows how that run ended.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from calsync.api import calendar_items, events, synchronizations
from calsync.api.pagination import MAX_LIMIT
from calsync.api.services import ServicesDep
from calsync.bootstrap import Services
from calsync.domain.access import Permission
from calsync.domain.events import Action, CalendarItemKind, CalendarItemStatus, EventState
from calsync.domain.synchronizations import SyncOutcome
from calsync.errors import EventBusy
from calsync.sync.reprocess import reprocess
from calsync.web.app import HistoryDep, PageRoute, Visitor, form_for, page_for, render
from calsync.web.session import PATH

router = APIRouter(prefix=PATH, route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(page_for(Permission.read))]
Operator = Annotated[Visitor, Depends(form_for(Permission.operate))]
RecordId = Annotated[int, Path(ge=1)]
PAGE = 50
E = TypeVar("E", bound=StrEnum)


def chosen(kind: type[E], value: str | None, name: str) -> E | None:
    """A filter's value ("" from an empty select is none), or 422 naming the filter."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise HTTPException(422, f"{name}: not one of {', '.join(kind)}") from None


def pretty(value: Any) -> str:
    """A payload as an admin reads it: JSON indented (also JSON kept as text), any other
    text (iCalendar, XML) as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    services: ServicesDep,
    who: Reader,
    item: str = "",
    direction: str = "",
    action: str = "",
    state: str = "",
    cursor: str | None = None,
) -> Response:
    listed = events.list_events(
        services,
        item=item or None,
        direction=chosen(events.Direction, direction, "direction"),
        action=chosen(Action, action, "action"),
        status=chosen(EventState, state, "state"),
        cursor=cursor,
        limit=PAGE,
    )
    filters = {"item": item, "direction": direction, "action": action, "state": state}
    choices = {
        "direction": list(events.Direction),
        "action": list(Action),
        "state": list(EventState),
    }
    return render(
        request,
        "events.html",
        who,
        page=listed,
        filters=filters,
        choices=choices,
        items=_item_names(services),
    )


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(
    request: Request,
    services: ServicesDep,
    who: Reader,
    event_id: RecordId,
    ran: str = "",
    error: str = "",
) -> Response:
    shown = events.show_event(event_id, services)
    payloads = {key: pretty(shown.pop(key)) for key in ("payload", "provider_payload", "response")}
    return render(
        request,
        "event.html",
        who,
        event=shown,
        payloads=payloads,
        ran=ran,
        ran_error=error,
    )


@router.post("/events/{event_id}/reprocess")
def reprocess_page(
    services: ServicesDep, _who: Operator, history: HistoryDep, event_id: RecordId
) -> RedirectResponse:
    """Queue the event again and run it now; the event's page says how it ended. The
    event leaves its day's errors: the dashboard reads the closed days again."""
    from calsync.worker.runner import run_now

    ran, error = "not in error: nothing to do", ""
    if reprocess(services, event_id):
        history.drop()
        try:
            result = run_now(services, event_id)
            ran, error = result.outcome, result.error
        except EventBusy as exc:
            ran, error = "queued", str(exc)
    query = f"ran={_quoted(ran)}" + (f"&error={_quoted(error[:500])}" if error else "")
    return RedirectResponse(f"{PATH}/events/{event_id}?{query}", status_code=303)


@router.get("/calendar-items", response_class=HTMLResponse)
def calendar_items_page(
    request: Request,
    services: ServicesDep,
    who: Reader,
    item: str = "",
    kind: str = "",
    status: str = "",
    synchronization: int | None = None,
    cursor: str | None = None,
) -> Response:
    listed = calendar_items.list_calendar_items(
        services,
        item=item or None,
        status=chosen(CalendarItemStatus, status, "status"),
        kind=chosen(CalendarItemKind, kind, "kind"),
        synchronization=synchronization,
        cursor=cursor,
        limit=PAGE,
    )
    filters = {"item": item, "kind": kind, "status": status}
    choices = {"kind": list(CalendarItemKind), "status": list(CalendarItemStatus)}
    return render(
        request,
        "calendar_items.html",
        who,
        page=listed,
        filters=filters,
        choices=choices,
        synchronization=synchronization,
        items=_item_names(services),
    )


@router.get("/calendar-items/{calendar_item_id}", response_class=HTMLResponse)
def calendar_item_page(
    request: Request, services: ServicesDep, who: Reader, calendar_item_id: RecordId
) -> Response:
    shown = calendar_items.show_calendar_item(calendar_item_id, services)
    payload = pretty(shown.pop("provider_payload"))
    return render(request, "calendar_item.html", who, record=shown, payload=payload)


@router.get("/synchronizations", response_class=HTMLResponse)
def synchronizations_page(
    request: Request,
    services: ServicesDep,
    who: Reader,
    item: str = "",
    outcome: str = "",
    cursor: str | None = None,
) -> Response:
    listed = synchronizations.list_synchronizations(
        services,
        item=item or None,
        outcome=chosen(SyncOutcome, outcome, "outcome"),
        cursor=cursor,
        limit=PAGE,
    )
    return render(
        request,
        "synchronizations.html",
        who,
        page=listed,
        filters={"item": item, "outcome": outcome},
        choices={"outcome": list(SyncOutcome)},
        items=_item_names(services),
    )


def _item_names(services: Services) -> list[str]:
    with services.read() as uow:
        return sorted(uow.items.names().values())[:MAX_LIMIT]


def _quoted(text: str) -> str:
    return quote(text, safe="")
