"""The exchange log from the command line: `calsync events`, `calsync items`, `calsync deltas`."""

from __future__ import annotations

from typing import Annotated

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
    named_records,
    open_services,
    show_record,
    show_rows,
    utc,
)
from calsync.cli.exit_codes import ExitCode
from calsync.tables import calendar_items_table, deltas_table, events_table

events_app = typer.Typer(
    help="Events: every exchange with a calendar service.", no_args_is_help=True
)
items_app = typer.Typer(
    help="Calendar items: each change a calendar reported.", no_args_is_help=True
)
deltas_app = typer.Typer(
    help="Synchronization deltas: each synchronization and its delta key.", no_args_is_help=True
)

# --- events --------------------------------------------------------------------------


@events_app.command("list")
def events_list(
    item: ItemOption = None,
    status: StatusOption = None,
    action: Annotated[str | None, typer.Option("--action")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """List events, newest first."""
    from calsync.exports import event_json
    from calsync.store.records import RecordFilter

    with errors(), open_services() as services:
        where = RecordFilter(
            item_id(services, item), status, action, utc(since), utc(until), limit=limit
        )
        rows = named_records(services, lambda uow: uow.events.find(where), event_json)
    show_rows(rows, as_json, events_table)


@events_app.command("show")
def events_show(event_id: int, as_json: JsonOption = False) -> None:
    """Show one event with its payload, provider payload and response."""
    from calsync.exports import event_json

    with errors(), open_services() as services:
        [data] = named_records(services, lambda uow: [uow.events.get(event_id)], event_json)
    show_record(data, as_json, ("payload", "provider_payload", "response"))


@events_app.command("reprocess")
def events_reprocess(
    event_id: Annotated[
        int | None, typer.Argument(help="One event id; or use --failed with filters.")
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="All events in error matching the filters.")
    ] = False,
    item: ItemOption = None,
    action: Annotated[str | None, typer.Option("--action")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    run: Annotated[
        bool, typer.Option("--run/--queue", help="Run them now, or only queue them.")
    ] = True,
) -> None:
    """Put events in error back in the queue (and run them).

    Exit codes: 0 every rerun event was processed (or queued, with --queue); 3 some
    ended in error again.
    """
    from calsync.store.records import RecordFilter
    from calsync.sync.reprocess import reprocess, reprocess_failed
    from calsync.worker.runner import run_now

    with errors(), open_services() as services:
        if event_id is not None:
            ids = [event_id] if reprocess(services, event_id) else []
            if not ids:
                console.print(f"event {event_id} is not in error: nothing to reprocess")
        elif failed:
            where = RecordFilter(
                item_id(services, item), None, action, utc(since), utc(until), limit=10_000
            )
            ids = reprocess_failed(services, where)
        else:
            raise typer.BadParameter("give an event id or --failed")
        in_error = 0
        for queued in ids:
            state = run_now(services, queued).state.value if run else "new"
            in_error += state == "error"
            console.print(f"event {queued}: {state}")
    if in_error:
        console.print(f"{in_error} of {len(ids)} events ended in error again")
        raise typer.Exit(ExitCode.events_failed)


# --- calendar items ----------------------------------------------------------------------


@items_app.command("list")
def items_list(
    item: ItemOption = None,
    status: StatusOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    synchronization: Annotated[int | None, typer.Option("--synchronization")] = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """List calendar items, newest first."""
    from calsync.exports import calendar_item_json
    from calsync.store.records import RecordFilter

    with errors(), open_services() as services:
        where = RecordFilter(
            item_id(services, item), status, None, utc(since), utc(until), synchronization, limit
        )
        rows = named_records(
            services, lambda uow: uow.calendar_items.find(where), calendar_item_json
        )
    show_rows(rows, as_json, calendar_items_table)


@items_app.command("show")
def items_show(calendar_item_id: int, as_json: JsonOption = False) -> None:
    """Show one calendar item with the provider payload it came with."""
    from calsync.exports import calendar_item_json

    with errors(), open_services() as services:
        [data] = named_records(
            services, lambda uow: [uow.calendar_items.get(calendar_item_id)], calendar_item_json
        )
    show_record(data, as_json, ("provider_payload",))


# --- synchronization deltas ------------------------------------------------------------------


@deltas_app.command("list")
def deltas_list(
    item: ItemOption = None,
    status: StatusOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """List synchronizations with their delta keys and what each produced."""
    from calsync.exports import synchronization_json
    from calsync.store.records import RecordFilter

    with errors(), open_services() as services:
        where = RecordFilter(
            item_id(services, item), status, None, utc(since), utc(until), limit=limit
        )
        rows = named_records(
            services, lambda uow: uow.synchronizations.find(where), synchronization_json
        )
    show_rows(rows, as_json, deltas_table)
