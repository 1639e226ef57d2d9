"""The `calsync` command line: every admin action, `--json` for scripts.

Errors are printed once, here (`_fail`), with what to do next; the core only raises types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, overload

import typer
from rich.console import Console
from rich.progress import Progress

from calsync import config as config_module
from calsync.bootstrap import Services, start
from calsync.errors import CalsyncError, ConfigError, DoubleBooking, NotFound
from calsync.exports import calendar_item_json, event_json, reservation_json, synchronization_json
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationFilter
from calsync.sync import reservations as reservation_service
from calsync.sync.reprocess import reprocess, reprocess_failed
from calsync.tables import deltas_table, reservations_table, table
from calsync.worker.runner import request_sync, run_event, run_forever, run_once

app = typer.Typer(help="calsync: workplace reservations <-> room calendars.", no_args_is_help=True)
events_app = typer.Typer(
    help="Events: every exchange with a calendar service.", no_args_is_help=True
)
items_app = typer.Typer(
    help="Calendar items: each change a calendar reported.", no_args_is_help=True
)
deltas_app = typer.Typer(
    help="Synchronization deltas: each synchronization and its delta key.", no_args_is_help=True
)
reservations_app = typer.Typer(help="Reservations.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(items_app, name="items")
app.add_typer(deltas_app, name="deltas")
app.add_typer(reservations_app, name="reservations")
app.add_typer(config_app, name="config")

console = Console()
_state: dict[str, Path | None] = {"config": None}

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Configuration file (default: calsync.toml, or CALSYNC_CONFIG)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ItemOption = Annotated[str | None, typer.Option("--item", help="Workplace item name.")]
StatusOption = Annotated[str | None, typer.Option("--status", help="Only this status/state.")]
SinceOption = Annotated[
    datetime | None, typer.Option("--since", help="From this time (ISO 8601, UTC if no zone).")
]
UntilOption = Annotated[datetime | None, typer.Option("--until", help="Before this time.")]
LimitOption = Annotated[int, typer.Option("--limit", help="At most this many rows.")]


@app.callback()
def _main(config: ConfigOption = None) -> None:
    _state["config"] = config


def main() -> None:
    app()


@contextmanager
def _services() -> Iterator[Services]:
    services = start(config_module.load(_state["config"]))
    try:
        yield services
    finally:
        services.close()


def _fail(error: Exception) -> None:
    advice = {
        ConfigError: "fix the configuration file, then run `calsync config check`",
        NotFound: "list what exists with the matching `list` command",
        DoubleBooking: "the item is already reserved then; pick another time",
    }
    hint = next((text for kind, text in advice.items() if isinstance(error, kind)), "")
    console.print(f"[red]error:[/red] {error}")
    if hint:
        console.print(f"[dim]{hint}[/dim]")
    raise typer.Exit(1)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except CalsyncError as exc:
        _fail(exc)


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: None) -> None: ...
def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    console.print(table(title, columns, rows))


def _item_id(services: Services, item: str | None) -> int | None:
    if item is None:
        return None
    with services.uow() as uow:
        return uow.items.get(item).id


def _names(services: Services) -> dict[int, str]:
    with services.uow() as uow:
        return uow.items.names()


# --- setup -------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create the database schema and store the configured workplace items."""
    with _errors(), _services() as services:
        console.print(f"database ready: {services.settings.database.url}")
        console.print(f"workplace items: {len(services.settings.items)}")


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration file and say what it declares."""
    with _errors():
        settings = config_module.load(_state["config"])
        for name, connection in settings.connections.items():
            if connection.password_env:
                connection.secret()
            console.print(f"connection {name}: {connection.kind} {connection.url}")
        for item in settings.items:
            where = (
                f"{item.binding.connection}:{item.binding.calendar}"
                if item.binding
                else "no binding"
            )
            dry = " (dry run)" if item.binding and item.binding.dry_run else ""
            console.print(f"item {item.name}: {item.kind.value}, {item.time_zone}, {where}{dry}")
        console.print("[green]configuration is valid[/green]")


# --- synchronization ------------------------------------------------------------------


@app.command()
def sync(
    item: ItemOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="List the whole calendar, ignoring the delta key.")
    ] = False,
    confirm_sweep: Annotated[
        bool,
        typer.Option(
            "--confirm-sweep", help="Cancel what a suspiciously small full listing left out."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Synchronize item calendars now (all bound items, or one)."""
    with _errors(), _services() as services:
        names = (
            [item]
            if item
            else [i.name for i in services.settings.items if i.binding and i.binding.active]
        )
        results = []
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task("synchronizing", total=len(names))
            for name in names:
                result = run_event(
                    services, _claim(services, request_sync(services, name, full, confirm_sweep))
                )
                results.append((name, result))
                progress.advance(task)
        _report_syncs(results, as_json)
        if any(result.error for _, result in results):
            raise typer.Exit(1)


def _claim(services: Services, event_id: int) -> int:
    with services.uow() as uow:
        event = uow.events.get(event_id)
        now = services.clock()
        event.state, event.claimed_until = (
            "processing",
            now + timedelta(seconds=services.settings.sync.lease_seconds),
        )
        uow.commit()
    return event_id


def _report_syncs(results: list[Any], as_json: bool) -> None:
    if as_json:
        _print_json(
            [
                {
                    "item": name,
                    "event_id": r.event_id,
                    "state": r.state.value,
                    "error": r.error or None,
                    "synchronization_id": r.synchronization.synchronization_id
                    if r.synchronization
                    else None,
                    "mode": r.synchronization.mode.value if r.synchronization else None,
                    "outcome": r.synchronization.outcome.value if r.synchronization else "failed",
                    "calendar_items": r.synchronization.calendar_items if r.synchronization else 0,
                }
                for name, r in results
            ]
        )
        return
    rows = []
    for name, r in results:
        s = r.synchronization
        rows.append(
            [
                name,
                s.mode.value if s else "",
                s.outcome.value if s else "failed",
                s.calendar_items if s else 0,
                r.error or (s.detail if s else ""),
            ]
        )
    _table("synchronizations", ["item", "mode", "outcome", "calendar items", "detail"], rows)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls of an empty queue.")] = 1.0,
) -> None:
    """Run pending events: synchronizations and outbound writes, with retries."""
    with _errors(), _services() as services:
        if not once:
            run_forever(services, interval)
        total = 0
        while batch := run_once(services):
            total += len(batch)
            for result in batch:
                mark = (
                    "[green]processed[/green]"
                    if result.state.value == "processed"
                    else f"[red]{result.state.value}[/red]"
                )
                console.print(f"event {result.event_id}: {mark} {result.error}")
        console.print(f"{total} events run")


@app.command()
def export(item: Annotated[str, typer.Option("--item", help="Workplace item name.")]) -> None:
    """Send the item's existing future reservations to its calendar (queued as create events)."""
    with _errors(), _services() as services:
        count = reservation_service.export_item(services, item)
        console.print(
            f"{count} create events queued for {item}; run `calsync worker --once` to send them"
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
    with _errors(), _services() as services:
        where = RecordFilter(
            _item_id(services, item), status, action, _utc(since), _utc(until), limit=limit
        )
        names = _names(services)
        with services.uow() as uow:
            rows = [event_json(row, names[row.item_id]) for row in uow.events.find(where)]
    if as_json:
        _print_json(rows)
        return
    _table(
        "events",
        ["id", "item", "action", "state", "attempts", "created", "error"],
        [
            [
                r["id"],
                r["item"],
                r["action"],
                r["state"],
                r["attempts"],
                r["created_at"],
                r["error"],
            ]
            for r in rows
        ],
    )


@events_app.command("show")
def events_show(event_id: int, as_json: JsonOption = False) -> None:
    """Show one event with its payload, provider payload and response."""
    with _errors(), _services() as services:
        names = _names(services)
        with services.uow() as uow:
            row = uow.events.get(event_id)
            data = event_json(row, names[row.item_id])
    if as_json:
        _print_json(data)
        return
    for key in ("id", "item", "action", "state", "attempts", "error", "created_at", "updated_at"):
        console.print(f"[bold]{key}[/bold]: {data[key]}")
    console.print("[bold]payload[/bold]:")
    console.print_json(json.dumps(data["payload"]))
    console.print("[bold]provider payload[/bold]:")
    console.print(data["provider_payload"] or "", markup=False)
    console.print("[bold]response[/bold]:")
    console.print(data["response"] or "", markup=False)


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
    """Put events in error back in the queue (and run them)."""
    with _errors(), _services() as services:
        if event_id is not None:
            ids = [event_id] if reprocess(services, event_id) else []
            if not ids:
                console.print(f"event {event_id} is not in error: nothing to reprocess")
        elif failed:
            where = RecordFilter(
                _item_id(services, item), None, action, _utc(since), _utc(until), limit=10_000
            )
            ids = reprocess_failed(services, where)
        else:
            raise typer.BadParameter("give an event id or --failed")
        for queued in ids:
            state = run_event(services, _claim(services, queued)).state.value if run else "new"
            console.print(f"event {queued}: {state}")


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
    with _errors(), _services() as services:
        where = RecordFilter(
            _item_id(services, item), status, None, _utc(since), _utc(until), synchronization, limit
        )
        names = _names(services)
        with services.uow() as uow:
            rows = [
                calendar_item_json(row, names[row.item_id])
                for row in uow.calendar_items.find(where)
            ]
    if as_json:
        _print_json(rows)
        return
    _table(
        "calendar items",
        ["id", "item", "kind", "status", "provider id", "outcome / error"],
        [
            [
                r["id"],
                r["item"],
                r["kind"],
                r["status"],
                r["provider_id"],
                r["error"] or r["outcome"],
            ]
            for r in rows
        ],
    )


@items_app.command("show")
def items_show(calendar_item_id: int, as_json: JsonOption = False) -> None:
    """Show one calendar item with the provider payload it came with."""
    with _errors(), _services() as services:
        names = _names(services)
        with services.uow() as uow:
            row = uow.calendar_items.get(calendar_item_id)
            data = calendar_item_json(row, names[row.item_id])
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        if key != "provider_payload":
            console.print(f"[bold]{key}[/bold]: {value}")
    console.print("[bold]provider payload[/bold]:")
    console.print(data["provider_payload"] or "", markup=False)


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
    with _errors(), _services() as services:
        where = RecordFilter(
            _item_id(services, item), status, None, _utc(since), _utc(until), limit=limit
        )
        names = _names(services)
        with services.uow() as uow:
            rows = [
                synchronization_json(row, names[row.item_id])
                for row in uow.synchronizations.find(where)
            ]
    if as_json:
        _print_json(rows)
        return
    _print_deltas(rows)


def _print_deltas(rows: list[dict[str, Any]]) -> None:
    console.print(deltas_table(rows))


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
    with _errors(), _services() as services:
        where = ReservationFilter(_item_id(services, item), status, _utc(since), _utc(until), limit)
        with services.uow() as uow:
            rows = [reservation_json(r) for r in uow.reservations.find(where)]
    if as_json:
        _print_json(rows)
        return
    _print_reservations(rows)


def _print_reservations(rows: list[dict[str, Any]]) -> None:
    console.print(reservations_table(rows))


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
    with _errors(), _services() as services:
        created = reservation_service.create(
            services, item, _utc(start), _utc(end), subject, organizer
        )
    _show_reservation(created, as_json)


@reservations_app.command("update")
def reservations_update(
    reservation_id: str,
    start: Annotated[datetime | None, typer.Option("--start")] = None,
    end: Annotated[datetime | None, typer.Option("--end")] = None,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move or rename a reservation."""
    with _errors(), _services() as services:
        changed = reservation_service.update(
            services, reservation_id, _utc(start), _utc(end), subject
        )
    _show_reservation(changed, as_json)


@reservations_app.command("cancel")
def reservations_cancel(reservation_id: str, as_json: JsonOption = False) -> None:
    """Cancel a reservation; its calendar entry is deleted through the outbox."""
    with _errors(), _services() as services:
        cancelled = reservation_service.cancel(services, reservation_id)
    _show_reservation(cancelled, as_json)


def _show_reservation(reservation: Any, as_json: bool) -> None:
    data = reservation_json(reservation)
    if as_json:
        _print_json(data)
    else:
        _print_reservations([data])


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the demo's files in this folder.")
    ] = None,
) -> None:
    """Run a Radicale server with three rooms and a desk, sync a realistic week both ways."""
    from calsync.demo import run_demo

    with _errors():
        run_demo(Console(width=max(console.width, 150)), keep)
