"""`insert_rows(session, table, rows)`: many rows in one go, the fastest way each database has.

A full synchronization of a large calendar writes tens of thousands of reservations,
calendar items and events. PostgreSQL takes them by COPY (one stream instead of one
statement per row); SQLite by executemany of one prepared INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

#: From this many rows, PostgreSQL gets them by COPY.
COPY_FROM = 100


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(session, table, rows)
    else:
        session.execute(insert(table), list(rows))


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    columns = list(rows[0])
    for column in columns:
        table.c[column]
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
