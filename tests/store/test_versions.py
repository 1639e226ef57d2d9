"""Where the provider keeps a reservation, on SQLite and PostgreSQL: a version written
after an edit lands only on reservations still at the version the edit was based on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from tests.store.test_store import add, booking

NINE = datetime(2026, 12, 3, 9, tzinfo=UTC)


@pytest.fixture
def services(database_url, clock):
    made = start(parse({"database": {"url": database_url}, "items": [{"name": "Room A"}]}), clock)
    yield made
    made.close()


def _versions(services):
    with services.uow() as uow:
        return {
            r.recurrence_id: r.provider_version
            for r in uow.reservations.of_provider_id(1, "/c/s.ics")
        }


def test_a_version_produced_by_an_edit_never_overwrites_a_newer_one_a_read_applied(services):
    series = booking("Room A", NINE)
    first = replace(series, provider_id="/c/s.ics", provider_version='"v1"', recurrence_id=NINE)
    second = replace(
        booking("Room A", NINE.replace(day=4)),
        uid=series.uid,
        provider_id="/c/s.ics",
        provider_version='"v3"',  # a read applied the organizer's change meanwhile
        recurrence_id=NINE.replace(day=4),
    )
    add(services, first, second)
    with services.uow() as uow:
        uow.reservations.set_version_of(1, "/c/s.ics", '"v2"', based_on={'"v1"'})
        uow.commit()
    assert _versions(services) == {NINE: '"v2"', NINE.replace(day=4): '"v3"'}
