"""Review: a PostgreSQL restart (every backend terminated) while a busy server holds
warm pooled connections (back in the pool under PING_AFTER_IDLE): how many statements
fail, and whether the pool recovers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from calsync.store import db
from calsync.store.db import make_engine

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _terminate_all(url: str, database: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        )
    admin.dispose()


def _warm(engine, count: int) -> None:
    """`count` connections made and back in the pool a moment ago."""
    held = [engine.connect() for _ in range(count)]
    for connection in held:
        connection.execute(text("SELECT 1"))
    for connection in held:
        connection.close()


def _statement(engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError:
        return False
    return True


def test_review10_after_a_restart_one_statement_fails_then_the_pool_is_renewed(
    database_url, monkeypatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)  # all inside the window
    engine = make_engine(database_url)
    try:
        _warm(engine, 5)
        _terminate_all(database_url, engine.url.database)
        outcomes = [_statement(engine) for _ in range(10)]
        assert outcomes == [False] + [True] * 9
    finally:
        engine.dispose()


def test_review10_after_a_restart_concurrent_statements_fail_once_each_at_most(
    database_url, monkeypatch
):
    """As many statements fail as meet a dead connection at once (up to the pool's
    ten): the module's word is "the one statement"."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)
    engine = make_engine(database_url)
    try:
        _warm(engine, 5)
        _terminate_all(database_url, engine.url.database)
        start = threading.Barrier(5)
        outcomes: list[bool] = []

        def one() -> None:
            start.wait()
            outcomes.append(_statement(engine))

        threads = [threading.Thread(target=one) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        failed = outcomes.count(False)
        assert 1 <= failed <= 5
        assert [_statement(engine) for _ in range(5)] == [True] * 5  # recovered
    finally:
        engine.dispose()
