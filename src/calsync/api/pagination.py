"""Cursor pagination for every list of the API.

A list is walked along a unique, indexed ordering (reservations by (start, id), the
exchange log by id, newest first); a page is fetched with a keyset condition ("after this
key"), never an offset, so rows inserted while a client walks a list neither shift nor
repeat the rows it has yet to see. The cursor is opaque to clients: the list's name and
the last row's key, as base64url JSON. A cursor of another list, or one that was
tampered with, is refused (422), as is a `limit` outside 1..`MAX_LIMIT`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import HTTPException, Query
from pydantic import BaseModel

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: The largest row id: the ids are INTEGER columns, 32 bits on PostgreSQL. A larger id in a
#: path, a query or a cursor names no row (404, 422) instead of failing in the database.
MAX_ID = 2**31 - 1

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page (at most {MAX_LIMIT}).")
]
CursorQuery = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; none for the first.")
]

Row = TypeVar("Row")
Shown = TypeVar("Shown")


class Page(BaseModel, Generic[Shown]):
    """One page of a list; `next_cursor` is null on the last page."""

    results: list[Shown]
    next_cursor: str | None


def encode(name: str, key: Sequence[Any]) -> str:
    text = json.dumps([name, list(key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(name: str, cursor: str | None) -> list[Any] | None:
    """The key a cursor of list `name` holds (None for the first page); 422 otherwise."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if found == name and isinstance(key, list):
            return key
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        pass  # RecursionError: brackets nested deeper than json.loads goes
    raise not_a_cursor(name)


def last_id(name: str, cursor: str | None) -> int | None:
    """The id of the last row of the page a cursor of a list walked by id follows."""
    key = decode(name, cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool):
        raise not_a_cursor(name)
    if not 1 <= key[0] <= MAX_ID:
        raise not_a_cursor(name)
    return key[0]


def not_a_cursor(name: str) -> HTTPException:
    return HTTPException(
        422,
        f"cursor: not a cursor of the {name} list (pass `next_cursor` as given)",
    )


def page(
    name: str,
    rows: Sequence[Row],
    limit: int,
    key: Callable[[Row], Sequence[Any]],
    show: Callable[[Row], Any],
) -> dict[str, Any]:
    """The page of `rows` (fetched with `limit + 1` rows, to know whether more follow)."""
    kept = rows[:limit]
    more = len(rows) > limit
    return {
        "results": [show(row) for row in kept],
        "next_cursor": encode(name, key(kept[-1])) if more and kept else None,
    }
