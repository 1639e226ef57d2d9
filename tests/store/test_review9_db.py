"""Review of b029af4 on PostgreSQL: the item writer lock remembered per transaction must
not outlive a savepoint that is rolled back (PostgreSQL releases an advisory lock taken
after a savepoint when the savepoint is rolled back to); a lookup's AUTOCOMMIT does not
leak into the next unit of work on the same pooled connection."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.reservations import ITEM_WRITERS_LOCK

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def services(database_url, clock):
    settings = {
        "database": {"url": database_url},
        "connections": {"dav": {"kind": "caldav", "url": "http://127.0.0.1:9/"}},
        "items": [{"name": "Room A", "binding": {"connection": "dav", "calendar": "/rooms/a/"}}],
    }
    made = start(parse(settings), clock)
    yield made
    made.close()


def another_session_may_lock(url: str, item_id: int) -> bool:
    other = create_engine(url, poolclass=NullPool)
    with other.connect() as connection:
        got = connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:space, :item_id)"),
            {"space": ITEM_WRITERS_LOCK, "item_id": item_id},
        )
    other.dispose()
    return bool(got)


def test_the_item_lock_is_taken_again_after_the_savepoint_that_took_it_rolled_back(
    services, database_url
):
    with services.read() as uow:
        item_id = uow.items.get("Room A").id
    with services.uow() as uow:
        uow.session.connection()
        nested = uow.session.begin_nested()
        uow.reservations.lock_item(item_id)
        nested.rollback()  # PostgreSQL let go of the lock taken inside the savepoint
        uow.reservations.lock_item(item_id)  # the writer must hold it again now
        assert not another_session_may_lock(database_url, item_id)
        uow.rollback()


def test_a_lookup_leaves_its_connection_transactional_for_the_next_unit_of_work(services):
    for _ in range(3):
        with services.lookup() as uow:
            uow.tokens.live("00000000")
        with services.uow() as uow:
            uow.session.execute(text("SELECT pg_sleep(0.01)"))
            assert uow.session.scalar(text("SELECT now() <> statement_timestamp()"))
            uow.rollback()
