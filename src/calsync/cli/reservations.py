"""Reservations from the command line: `calsync reservations list|show|create|update|cancel`,
and `check-in|check-out` (a refused one exits 1, saying why).

An id is taken whole or as any unique prefix or suffix (the tables show the last eight
characters, where time-ordered ids differ): see `calsync.store.short_ids`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from calsync.cli.common import (
    ItemOption,
    JsonOption,
    LimitOption,
    SinceOption,
    StatusOption,
    UntilOption,
    console,
    errors,
    item_id,
    open_services,
    show_rows,
    utc,
)
from calsync.tables import reservations_table

if TYPE_CHECKING:
    from calsync.bootstrap import Services

reservations_app = typer.Typer(help="Reservations.", no_args_is_help=True)
IdArgument = Annotated[
    str, typer.Argument(help="The id, or a unique part of its start or end (as tables show).")
]

# --- reservations -------------------------------------------------------------------------------


@reservations_app.command("list")
def reservations_list(
    item: ItemOption = None,
    status: StatusOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 200,
    as_json: JsonOption = False,
) -> None:
    """List reservations by start time."""
    from calsync.exports import reservation_json
    from calsync.store.reservations import ReservationFilter

    with errors(), open_services() as services:
        where = ReservationFilter(item_id(services, item), status, utc(since), utc(until), limit)
        with services.read() as uow:
            rows = [reservation_json(r) for r in uow.reservations.find(where)]
    show_rows(rows, as_json, reservations_table)


@reservations_app.command("show")
def reservations_show(reservation_id: IdArgument, as_json: JsonOption = False) -> None:
    """Show one reservation."""
    from calsync.store.short_ids import resolve_reservation_id

    with errors(), open_services() as services, services.read() as uow:
        reservation = uow.reservations.get(resolve_reservation_id(uow.session, reservation_id))
    _show_reservation(reservation, as_json)


@reservations_app.command("create")
def reservations_create(
    item: Annotated[str, typer.Option("--item")],
    start: Annotated[datetime, typer.Option("--start", help="ISO 8601; UTC if no zone.")],
    end: Annotated[datetime, typer.Option("--end")],
    subject: Annotated[str, typer.Option("--subject")] = "",
    organizer: Annotated[str, typer.Option("--organizer")] = "",
    as_json: JsonOption = False,
) -> None:
    """Reserve an item; its calendar gets the booking through the outbox."""
    from calsync.sync import reservations as reservation_service

    with errors(), open_services() as services:
        created = reservation_service.create(
            services, item, utc(start), utc(end), subject, organizer
        )
    _show_reservation(created, as_json)


@reservations_app.command("update")
def reservations_update(
    reservation_id: IdArgument,
    start: Annotated[datetime | None, typer.Option("--start")] = None,
    end: Annotated[datetime | None, typer.Option("--end")] = None,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move or rename a reservation."""
    from calsync.sync import reservations as reservation_service

    with errors(), open_services() as services:
        changed = reservation_service.update(
            services, full_id(services, reservation_id), utc(start), utc(end), subject
        )
    _show_reservation(changed, as_json)


@reservations_app.command("cancel")
def reservations_cancel(reservation_id: IdArgument, as_json: JsonOption = False) -> None:
    """Cancel a reservation; its calendar entry is deleted through the outbox."""
    from calsync.sync import reservations as reservation_service

    with errors(), open_services() as services:
        cancelled = reservation_service.cancel(services, full_id(services, reservation_id))
    _show_reservation(cancelled, as_json)


@reservations_app.command("check-in")
def reservations_check_in(reservation_id: IdArgument, as_json: JsonOption = False) -> None:
    """Check a reservation in: from its item's check-in margin before its start until it
    ends. Where the item requires check-in, one not checked in within the grace period is
    released as a no-show."""
    from calsync.sync import check_in as check_in_service

    with errors(), open_services() as services:
        checked_in = check_in_service.check_in(services, full_id(services, reservation_id))
    _show_reservation(checked_in, as_json)


@reservations_app.command("check-out")
def reservations_check_out(reservation_id: IdArgument, as_json: JsonOption = False) -> None:
    """Check a reservation out early: it ends now (at the next whole minute), and its
    calendar entry is shortened through the outbox."""
    from calsync.sync import check_in as check_in_service

    with errors(), open_services() as services:
        checked_out = check_in_service.check_out(services, full_id(services, reservation_id))
    _show_reservation(checked_out, as_json)


def full_id(services: Services, given: str) -> str:
    """The reservation id that `given` (a full id, or a unique prefix or suffix) names."""
    from calsync.store.short_ids import resolve_reservation_id

    with services.read() as uow:
        return resolve_reservation_id(uow.session, given)


def _show_reservation(reservation: Any, as_json: bool) -> None:
    from calsync.exports import reservation_json

    shown = reservation_json(reservation)
    show_rows([shown], as_json, reservations_table, one=True)
    facts = _check_in_facts(shown)
    if facts and not as_json:
        console.print(facts)


def _check_in_facts(shown: dict[str, Any]) -> str:
    """When it was checked in, checked out or released as a no-show, in words (UTC)."""
    said = {
        "checked_in_at": "checked in",
        "checked_out_at": "checked out",
        "no_show_released_at": "released as a no-show",
    }
    return "; ".join(
        f"{words} at {shown[key][:19].replace('T', ' ')} UTC"
        for key, words in said.items()
        if shown[key]
    )
