"""Rich tables of the JSON shapes in `calsync.exports`, shared by the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

#: Characters of a reservation id that tables show (the last ones).
SHORT_ID = 8


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column)
    for row in rows:
        shown.add_row(*["" if cell is None else str(cell) for cell in row])
    return shown


def short_id(reservation_id: str) -> str:
    """The end of a reservation id: ids are time-ordered, so their starts are alike and
    their random ends tell rows apart (commands take it back: `calsync.store.short_ids`)."""
    return reservation_id[-SHORT_ID:]


def short_key(key: str | None) -> str:
    """The end of a delta key, where keys differ."""
    if not key:
        return "-"
    return key if len(key) <= 24 else "…" + key[-20:]


def deltas_table(rows: Sequence[dict[str, Any]]) -> Table:
    columns = ["id", "item", "mode", "delta key before", "delta key after"]
    columns += ["events", "calendar items", "outcome"]
    return table(
        "synchronization deltas",
        columns,
        [
            [
                r["id"],
                r["item"],
                r["mode"],
                short_key(r["delta_key_before"]),
                short_key(r["delta_key_after"]),
                r["events_created"],
                r["calendar_items_created"],
                r["outcome"],
            ]
            for r in rows
        ],
    )


def reservations_table(rows: Sequence[dict[str, Any]]) -> Table:
    return table(
        "reservations",
        ["id", "item", "start (UTC)", "end (UTC)", "status", "origin", "subject", "reason"],
        [
            [
                short_id(r["id"]),
                r["item"],
                r["start"][:16],
                r["end"][:16],
                r["status"],
                r["origin"],
                r["subject"],
                r["reason"],
            ]
            for r in rows
        ],
    )


def events_table(rows: Sequence[dict[str, Any]]) -> Table:
    columns = ["id", "item", "action", "state", "attempts", "created", "error"]
    keys = ["id", "item", "action", "state", "attempts", "created_at", "error"]
    return table("events", columns, [[r[k] for k in keys] for r in rows])


def calendar_items_table(rows: Sequence[dict[str, Any]]) -> Table:
    columns = ["id", "item", "kind", "status", "provider id", "outcome / error"]
    return table(
        "calendar items",
        columns,
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


def approvals_table(rows: Sequence[dict[str, Any]]) -> Table:
    return table(
        "approvals",
        ["id", "reservation", "item", "start (UTC)", "rule", "performer", "state", "expires"],
        [
            [
                str(r["id"]),
                short_id(r["reservation_id"]),
                r.get("reservation", {}).get("item", ""),
                r.get("reservation", {}).get("start", "")[:16],
                r["rule"],
                r["performer"],
                r["state"],
                r["expires_at"][:16],
            ]
            for r in rows
        ],
    )
