"""What every `calsync` command shares: the console, options, services and error printing.

Errors are printed once, here (`fail`), with what to do next; the core only raises types.

Commands import the services they run inside their bodies: `calsync --help`, `calsync
config check` and a mistyped option answer without loading SQLAlchemy and the database
drivers (about 0.3 s instead of 0.9 s here).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar, overload

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from calsync import config as config_module
from calsync.errors import (
    AmbiguousId,
    CalsyncError,
    ConfigError,
    ConfigNotFound,
    DatabaseMissing,
    DoubleBooking,
    NotFound,
)
from calsync.tables import table

if TYPE_CHECKING:
    from calsync.bootstrap import Services
    from calsync.store.unit_of_work import UnitOfWork

console = Console()
state: dict[str, Path | None] = {"config": None}

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


@contextmanager
def open_services(create: bool = False) -> Iterator[Services]:
    """The services of the configured store. Only `init` passes `create`: every other
    command refuses a missing configuration or database and makes neither."""
    from calsync.bootstrap import build
    from calsync.store.db import open_schema, require_database, upgrade

    settings = config_module.load(state["config"])
    if not create:
        require_database(settings.database.url)
    services = build(settings, migrate=False)
    try:
        if create:
            upgrade(services.engine)
        else:
            open_schema(services.engine)
        store_items(services)
        yield services
    finally:
        services.close()


def store_items(services: Services) -> None:
    """Store the configured items that differ from the stored ones. Every command starts
    with this: when nothing changed it is one read (not a write per item, which took a
    second with 500 rooms, and on SQLite waited for a busy worker's write lock)."""
    configured = services.settings.workplace_items()
    with services.read() as uow:
        stored = {each.item.name: each.item for each in uow.items.all()}
    changed = [item for item in configured if stored.get(item.name) != item]
    if not changed:
        return
    with services.uow() as uow:
        for item in changed:
            uow.items.upsert(item)
        uow.commit()


def fail(error: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(error))}")
    hint = _advice(error)
    if hint:
        console.print(f"[dim]{escape(hint)}[/dim]")
    raise typer.Exit(1)


def _advice(error: Exception) -> str:
    if isinstance(error, ConfigNotFound):
        if error.default:
            return (
                "run `calsync init` here to write a starter calsync.toml, or name the file "
                "with --config or CALSYNC_CONFIG"
            )
        return "check the path, or run `calsync init` where calsync.toml should be"
    advice = {
        DatabaseMissing: "run `calsync init` to create it",
        AmbiguousId: "give more characters of the id",
        ConfigError: "fix the configuration file, then run `calsync config check`",
        NotFound: "list what exists with the matching `list` command",
        DoubleBooking: "the item is already reserved then; pick another time",
    }
    return next((text for kind, text in advice.items() if isinstance(error, kind)), "")


@contextmanager
def errors() -> Iterator[None]:
    try:
        yield
    except CalsyncError as exc:
        fail(exc)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    console.print(table(title, columns, rows))


def item_id(services: Services, item: str | None) -> int | None:
    if item is None:
        return None
    with services.read() as uow:
        return uow.items.get(item).id


class _OfAnItem(Protocol):
    item_id: int


Record = TypeVar("Record", bound=_OfAnItem)


def named_records(
    services: Services,
    find: Callable[[UnitOfWork], Iterable[Record]],
    to_json: Callable[[Record, str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The records `find` reads, exported with the name of each one's item. A read-only
    unit of work: on SQLite it reads beside a busy worker instead of waiting for it."""
    with services.read() as uow:
        names = uow.items.names()
        return [to_json(record, names[record.item_id]) for record in find(uow)]


def show_record(data: dict[str, Any], as_json: bool, blocks: Sequence[str]) -> None:
    """One record: as JSON, or its fields and then its payload `blocks`, formatted."""
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if key not in blocks:
            console.print(f"[bold]{key}[/bold]: {value}")
    for key in blocks:
        console.print(f"[bold]{key.replace('_', ' ')}[/bold]:")
        value = data[key]
        if isinstance(value, dict | list):
            console.print_json(json.dumps(value))
        else:
            console.print(value or "", markup=False)


def show_rows(
    rows: list[dict[str, Any]],
    as_json: bool,
    render: Callable[[list[dict[str, Any]]], Table],
    one: bool = False,
) -> None:
    """A list (or, with `one`, a single record) as JSON or as a table."""
    if as_json:
        print_json(rows[0] if one else rows)
    else:
        console.print(render(rows))
