"""`insert_rows(session, table, rows)`: many rows in one go, the fastest way each database has.

A full synchronization of a large calendar writes tens of thousands of reservations,
calendar items and events. PostgreSQL takes them by COPY (one stream instead of one
statement per row); SQLite by one executemany of a prepared INSERT, with values already
in the form the columns' types would bind (so no per-value processing in between).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from calsync.store.types import UTCDateTime, sqlite_text

#: From this many rows, the database's own bulk path is worth it.
BULK_FROM = 100


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [table.c[name].name for name in rows[0]]  # a KeyError names a stray column
    insert_values(session, table, columns, [[row[column] for column in columns] for row in rows])


def insert_values(
    session: Session, table: Table, columns: Sequence[str], values: Sequence[list[Any]]
) -> None:
    """Rows given as lists of values in the order of `columns` (no dict per row).

    The driver's errors come out as SQLAlchemy's (`IntegrityError` for a refused row,
    `OperationalError` for a lock or a deadlock...), as on the statement path."""
    if not values:
        return
    dialect = session.get_bind().dialect.name
    if len(values) < BULK_FROM or dialect not in ("postgresql", "sqlite"):
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in values])
        return
    driver = session.connection().connection.driver_connection
    assert driver is not None
    if dialect == "postgresql":
        _copy(driver, table, columns, values)
    else:
        _executemany(driver, table, columns, values)


@contextmanager
def _as_sqlalchemy_errors(statement: str, driver_error: type[Exception]) -> Iterator[None]:
    try:
        yield
    except driver_error as exc:
        raise DBAPIError.instance(statement, None, exc, driver_error) from exc


def _copy(driver: Any, table: Table, columns: Sequence[str], values: Sequence[list[Any]]) -> None:
    import psycopg  # here: psycopg loads only when PostgreSQL is used

    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with (
        _as_sqlalchemy_errors(statement, psycopg.Error),
        driver.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in values:
            copy.write_row(row)


def _executemany(
    driver: Any, table: Table, columns: Sequence[str], values: Sequence[list[Any]]
) -> None:
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    stamps = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
    texts: dict[Any, str] = {}  # one text per instant: `now` and recurrence ids repeat
    for row in values:
        for index in stamps:
            instant = row[index]
            if instant is not None:
                text = texts.get(instant)
                if text is None:
                    text = texts[instant] = sqlite_text(instant)
                row[index] = text
    with _as_sqlalchemy_errors(statement, sqlite3.Error):
        driver.executemany(statement, values)
