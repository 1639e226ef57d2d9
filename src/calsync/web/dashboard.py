"""The dashboard, "Synchronization Health" as the reference product shows it, drawn as
server-side SVG (`calsync.web.charts`) from `calsync.store.health`: four counts (events
today, calendar items today, events not yet processed, events in error in the last 24
hours), calendar items by type and errors by cause over 30 days (pies), calendar items
and processed events per day over 7 days and errors per day over 30 days (step lines),
the newest events in error, and each item's last synchronization, its outcome and the
age of its delta key (the first items; the items page has them all).

Today's figures are read at each visit; the closed days' come from the process's
`HistoryCache` (the page says "as of" when they were read before), read again after the
answer once they are older than its lifetime, so that a reader seldom waits for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse, Response

from calsync.api.services import ServicesDep
from calsync.bootstrap import Services
from calsync.domain.access import Permission
from calsync.domain.events import CalendarItemKind
from calsync.store.health import REFUSED, UNSENT, Health, HistoryCache, health, recent_errors
from calsync.web.app import HistoryDep, PageRoute, Visitor, page_for, render
from calsync.web.charts import Series, pie, steps
from calsync.web.items import item_health
from calsync.web.session import PATH

router = APIRouter(prefix=PATH, route_class=PageRoute, include_in_schema=False)
Reader = Annotated[Visitor, Depends(page_for(Permission.read))]
#: How many items the dashboard lists (the items page pages through them all).
ITEMS_SHOWN = 20


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    services: ServicesDep,
    who: Reader,
    history: HistoryDep,
    after: BackgroundTasks,
) -> Response:
    now = services.clock()
    with services.read() as uow:
        counted = health(uow.session, now, history)
        errors = recent_errors(uow.session, now)
        names = uow.items.names()
        stored = uow.items.page(None, ITEMS_SHOWN + 1)
        items = item_health(uow.session, stored[:ITEMS_SHOWN], now)
    if history.due(now):
        after.add_task(refresh_history, services, history)
    return render(
        request,
        "dashboard.html",
        who,
        health=counted,
        charts=charts(counted),
        history_as_of=as_of(counted.history_as_of),
        errors=[(event, names.get(event.item_id, "?")) for event in errors],
        items=items,
        more_items=len(stored) > ITEMS_SHOWN,
    )


def refresh_history(services: Services, history: HistoryCache) -> None:
    """Read the closed days again, once the page that served the kept ones is sent."""
    with services.read() as uow:
        history.refresh(uow.session, services.clock())


def as_of(moment: datetime | None) -> str:
    """When the closed days' figures were read, as the note under the charts says it."""
    return moment.astimezone(UTC).strftime("%H:%M") if moment else ""


def charts(counted: Health) -> dict[str, object]:
    by_kind = [
        (kind.value.replace("_", " "), counted.calendar_items_by_kind.get(kind.value, 0))
        for kind in CalendarItemKind
    ]
    week = [day.day for day in counted.calendar_items_per_day]
    month = [day.day for day in counted.errors_per_day]
    return {
        "by_kind": pie("Calendar items by type, last 30 days", by_kind),
        "by_cause": pie(
            "Events in error by cause, last 30 days",
            [
                (REFUSED, counted.errors_by_cause[REFUSED]),
                (UNSENT, counted.errors_by_cause[UNSENT]),
            ],
        ),
        "week": steps(
            "Calendar items and processed events per day, last 7 days",
            week,
            [
                Series("calendar items", [d.count for d in counted.calendar_items_per_day]),
                Series("events processed", [d.count for d in counted.events_processed_per_day]),
            ],
        ),
        "errors": steps(
            "Events in error per day, last 30 days",
            month,
            [
                Series(REFUSED, [d.refused for d in counted.errors_per_day]),
                Series(UNSENT, [d.unsent for d in counted.errors_per_day]),
            ],
        ),
    }
