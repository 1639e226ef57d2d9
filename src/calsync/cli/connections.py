"""`calsync connections list|test NAME`: the connections of the configuration, and proof
that one works: its credentials, each bound calendar's reachability and whether it hands
out delta keys. The first thing to run when a room stops syncing. Needs no database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from calsync import config as config_module
from calsync.cli.common import JsonOption, console, errors, print_json, print_table, state
from calsync.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from calsync.config import Settings

connections_app = typer.Typer(help="Connections to calendar services.", no_args_is_help=True)


@connections_app.command("list")
def list_connections(as_json: JsonOption = False) -> None:
    """Each connection: its kind, where it points and the items bound to it (no secret)."""
    with errors():
        settings = config_module.load(state["config"])
    rows = [
        {"name": name, "kind": c.kind, "url": c.url, "items": _bound(settings, name)}
        for name, c in settings.connections.items()
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        "connections",
        ["name", "kind", "url", "items"],
        [[r["name"], r["kind"], r["url"], len(r["items"])] for r in rows],
    )


@connections_app.command("test")
def check_connection(
    name: Annotated[str, typer.Argument(help="The connection's name in the configuration.")],
    as_json: JsonOption = False,
) -> None:
    """Prove the credentials and each bound calendar (one cheap request each, nothing
    listed). Exit code 7 when anything failed."""
    from calsync.sync.connections import check_connection as prove

    with errors():
        settings = config_module.load(state["config"])
        check = prove(settings, name)
    results, ok = check.calendars, check.ok
    connection = settings.connection(name)
    if as_json:
        print_json(check.as_json())
    else:
        print_table(
            f"connection {name} ({connection.kind}, {connection.url})",
            ["item", "calendar", "ok", "delta keys", "detail"],
            [
                [r.item, r.calendar, "yes" if r.ok else "NO", _yes_no(r.delta_keys), r.detail]
                for r in results
            ],
        )
        if not results:
            console.print("no item is bound to this connection: only its settings were checked")
    if not ok:
        raise typer.Exit(ExitCode.connection_failed)


def _bound(settings: Settings, name: str) -> list[str]:
    from calsync.sync.connections import bound_calendars

    return [item for item, _ in bound_calendars(settings, name)]


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")
