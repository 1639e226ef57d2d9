"""The `calsync` command line: every admin action, `--json` for scripts.

`calsync events|items|deltas` live in `calsync.cli.log`, `calsync reservations` in
`calsync.cli.reservations`; what they share is in `calsync.cli.common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from calsync import config as config_module
from calsync.cli.common import (
    ConfigOption,
    ItemOption,
    JsonOption,
    console,
    errors,
    open_services,
    print_json,
    print_table,
    state,
)
from calsync.cli.log import deltas_app, events_app, items_app
from calsync.cli.maintenance import purge
from calsync.cli.reservations import reservations_app

app = typer.Typer(help="calsync: workplace reservations <-> room calendars.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(items_app, name="items")
app.add_typer(deltas_app, name="deltas")
app.add_typer(reservations_app, name="reservations")
app.add_typer(config_app, name="config")
app.command()(purge)


@app.callback()
def _main(config: ConfigOption = None) -> None:
    state["config"] = config


def main() -> None:
    app()


# --- setup -------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create (or migrate) the database and store the configured workplace items; in a
    folder without a configuration, write a starter calsync.toml first."""
    from calsync.cli.starter import write_starter_if_missing

    with errors():
        written = write_starter_if_missing(state["config"])
    with errors(), open_services(create=True) as services:
        if written:
            console.print(f"no configuration found: wrote a starter {written.absolute()}")
        console.print(f"database ready: {services.settings.database.url}")
        console.print(f"workplace items: {len(services.settings.items)}")
    if written:
        console.print("[dim]next: add connections and items to it, then run `calsync init`[/dim]")


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration file and say what it declares."""
    with errors():
        settings = config_module.load(state["config"])
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
    from calsync.worker.runner import request_sync, run_now

    with errors(), open_services() as services:
        names = (
            [item]
            if item
            else [i.name for i in services.settings.items if i.binding and i.binding.active]
        )
        results = []
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task("synchronizing", total=len(names))
            for name in names:
                result = run_now(services, request_sync(services, name, full, confirm_sweep))
                results.append((name, result))
                progress.advance(task)
        _report_syncs(results, as_json)
        if any(result.error for _, result in results):
            raise typer.Exit(1)


def _report_syncs(results: list[Any], as_json: bool) -> None:
    if as_json:
        print_json(
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
    print_table("synchronizations", ["item", "mode", "outcome", "calendar items", "detail"], rows)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
    interval: Annotated[
        float, typer.Option(help="Seconds to sleep when the queue is empty.")
    ] = 1.0,
) -> None:
    """Poll bound calendars when due and run pending events (reads, writes), with retries."""
    from calsync.worker.runner import run_once
    from calsync.worker.scheduler import enqueue_due_polls, run_forever

    with errors(), open_services() as services:
        if not once:
            run_forever(services, interval)
        enqueue_due_polls(services)
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
    from calsync.sync import reservations as reservation_service

    with errors(), open_services() as services:
        count = reservation_service.export_item(services, item)
        console.print(
            f"{count} create events queued for {item}; run `calsync worker --once` to send them"
        )


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the demo's files in this folder.")
    ] = None,
) -> None:
    """Run a Radicale server with three rooms and a desk, sync a realistic week both ways."""
    from calsync.demo import run_demo

    with errors():
        run_demo(Console(width=max(console.width, 150)), keep)
