"""API tokens in the store, on SQLite and PostgreSQL, and migration 0004 that holds them:
it adds the table and the list indexes, and goes back to 0003 and forward again cleanly."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.access import Role
from calsync.store.db import SCHEMA_REVISION, alembic_config, schema_revision


@pytest.fixture
def services(database_url, clock):
    made = start(parse({"database": {"url": database_url}, "items": [{"name": "Room A"}]}), clock)
    yield made
    made.close()


def test_a_token_is_verified_by_its_hash_and_refused_once_revoked(services):
    with services.uow() as uow:
        token = uow.tokens.issue(Role.integration, services.clock(), "kiosk")
        other = uow.tokens.issue(Role.viewer, services.clock())
        uow.commit()
    with services.read() as uow:
        assert uow.tokens.verify(token).role == Role.integration
        assert uow.tokens.verify(other).role == Role.viewer
        assert uow.tokens.verify(token.replace(token.split("_")[1], other.split("_")[1])) is None
    with services.uow() as uow:
        uow.tokens.revoke(token.split("_")[1], services.clock())
        uow.commit()
    with services.read() as uow:
        assert uow.tokens.verify(token) is None
        assert [t.name for t in uow.tokens.all()] == ["kiosk", ""]


def test_migrations_go_down_to_0003_and_up_again(services):
    from alembic import command

    config = alembic_config(services.engine)
    command.downgrade(config, "0003")
    assert schema_revision(services.engine) == "0003"
    assert not inspect(services.engine).has_table("api_tokens")
    command.upgrade(config, "head")
    assert schema_revision(services.engine) == SCHEMA_REVISION  # 0004 and what followed it
    assert inspect(services.engine).has_table("approvals")
    indexes = {i["name"] for i in inspect(services.engine).get_indexes("events")}
    assert {"ix_events_item_page", "ix_events_claim"} <= indexes
    assert "ix_reservations_page" in {
        i["name"] for i in inspect(services.engine).get_indexes("reservations")
    }
