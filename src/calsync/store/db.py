"""Engines and schema: `make_engine(url)`, `upgrade(engine)` and `open_schema(engine)`.

Only `calsync init` creates a database: every other command opens the schema with
`require_database(url)` first (a SQLite file that is not there is not made) and
`open_schema(engine)` after (a database without calsync's tables is refused).

SQLite (the embedded default) runs in WAL mode with every transaction taken as a write
transaction (`BEGIN IMMEDIATE`): one writer at a time, which is how the single-writer rules
of the worker hold there; read-only sessions read a snapshot beside the writer. PostgreSQL
(psycopg 3) is the production database. Its pooled connections are checked before use
only when they sat idle for `PING_AFTER_IDLE` seconds (`_ping_when_idle`): a busy server
does not pay a round trip per request, and a connection a database restart killed while it
sat in the pool is replaced before anyone uses it. A restart inside that window fails the
statements that meet a dead connection (one at a time: the first; under load, those
checked out at that moment); the pool is then renewed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from calsync.errors import DatabaseMissing

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest migration in migrations/versions (a test keeps the two equal).
SCHEMA_REVISION = "0010"
#: Execution option of connections that only read (SQLite then begins a deferred transaction).
READ_ONLY = "calsync_read_only"
#: A pooled PostgreSQL connection idle this long (seconds) is pinged before it is used.
PING_AFTER_IDLE = 2.0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_size=5, max_overflow=5)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use if it sat idle `PING_AFTER_IDLE` seconds; a
    dead one is replaced (the pool retries the checkout with a fresh connection)."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # new, or back in the pool a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure means: not this one
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the connection did not answer")


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk writes touch many index pages
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")  # fewer checkpoints in bulk writes
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a snapshot; waits for no writer
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(
    engine: Engine, read_only: bool = False, one_statement: bool = False
) -> sessionmaker[Session]:
    """Sessions for units of work; `read_only` ones never wait for (or block) a writer.
    `one_statement` ones, for a single read, run it outside a transaction on PostgreSQL."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    if one_statement and engine.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(bind=bind, expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; Alembic is loaded only when one is due."""
    if schema_revision(engine) != SCHEMA_REVISION:
        _migrate(engine)


def require_database(url: str) -> None:
    """Refuse a SQLite file that does not exist, before anything connects (and creates it)."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseMissing(f"no database at {path.absolute()} (database url {url})")


def open_schema(engine: Engine) -> None:
    """Check that the database holds calsync's schema, migrating one that is behind; an
    empty database (no schema at all) is refused: only `init` creates one."""
    revision = schema_revision(engine)
    if revision is None:
        shown = engine.url.render_as_string(hide_password=True)
        raise DatabaseMissing(f"the database {shown} has no calsync tables")
    if revision != SCHEMA_REVISION:
        _migrate(engine)


def schema_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision, read from the version table (no Alembic import),
    in a read-only transaction (on SQLite it does not wait for a busy writer)."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _migrate(engine: Engine) -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)
