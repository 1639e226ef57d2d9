"""Keeping the store in shape from the command line: `calsync purge`."""

from __future__ import annotations

from typing import Annotated

import typer

from calsync.cli.common import JsonOption, console, errors, open_services, print_json, print_table


def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete the events, calendar items and synchronizations that [retention] no longer
    keeps (the worker does this on its own once an hour)."""
    from calsync.exports import purge_json
    from calsync.store.retention import Cutoffs
    from calsync.store.retention import purge as run_purge

    with errors(), open_services() as services:
        now = services.clock()
        report = run_purge(services, now, dry_run=dry_run)
        cutoffs = Cutoffs.of(services.settings.retention, now)
    data = purge_json(report, cutoffs)
    if as_json:
        print_json(data)
        return
    verb = "would delete" if dry_run else "deleted"
    print_table(
        "purge (dry run: nothing deleted)" if dry_run else "purge",
        ["records", verb],
        [
            ["events", report.events],
            ["calendar items", report.calendar_items],
            ["synchronizations", report.synchronizations],
        ],
    )
    retention = services.settings.retention
    console.print(
        "kept: processed events "
        + _days(retention.processed_days)
        + ", events in error "
        + _days(retention.error_days)
        + ", synchronizations "
        + _days(retention.synchronization_days)
        + " (and each item's newest)"
    )
    if dry_run:
        console.print("[dim]run `calsync purge` to delete them[/dim]")


def _days(days: int) -> str:
    return f"{days} days" if days else "forever"
