"""`insert_rows(session, table, rows)`: many rows in one go, the fastest way each database has.

A full synchronization of a large calendar writes tens of thousands of reservations,
calendar items and events. PostgreSQL takes them by COPY (one stream instead of one
statement per row); SQLite by one executemany of a prepared INSERT, with values already
in the form the columns' types would bind (so no per-value processing in between).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from calsync.store.types import UTCDateTime, sqlite_text

#: From this many rows, the database's own bulk path is worth it.
BULK_FROM = 100

#: What a refused row raises, through SQLAlchemy or straight from the driver.
INTEGRITY_ERRORS = (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if len(rows) < BULK_FROM or dialect not in ("postgresql", "sqlite"):
        session.execute(insert(table), list(rows))
        return
    columns = [table.c[name].name for name in rows[0]]  # a KeyError names a stray column
    driver = session.connection().connection.driver_connection
    assert driver is not None
    if dialect == "postgresql":
        _copy(driver, table.name, columns, rows)
    else:
        _executemany(driver, table, columns, rows)


def _copy(driver: Any, name: str, columns: list[str], rows: Sequence[dict[str, Any]]) -> None:
    statement = f"COPY {name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _executemany(
    driver: Any, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]
) -> None:
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    stamps = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
    texts: dict[Any, str] = {}  # one text per instant: `now` and recurrence ids repeat
    values = []
    for row in rows:
        value = [row[column] for column in columns]
        for index in stamps:
            instant = value[index]
            if instant is not None:
                text = texts.get(instant)
                if text is None:
                    text = texts[instant] = sqlite_text(instant)
                value[index] = text
        values.append(value)
    driver.executemany(statement, values)
