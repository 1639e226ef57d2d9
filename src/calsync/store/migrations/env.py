"""Alembic environment: runs against the engine calsync hands over (see store.db.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from calsync.store.tables import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url") or ""
)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
