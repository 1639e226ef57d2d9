"""Finding the reservations one instance of a series can touch, on SQLite and PostgreSQL:
those mirroring its provider id or holding its occurrence, never its siblings'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import Origin
from tests.store.test_store import add, booking

NINE = datetime(2026, 12, 3, 9, tzinfo=UTC)


@pytest.fixture
def services(database_url, clock):
    made = start(parse({"database": {"url": database_url}, "items": [{"name": "Room A"}]}), clock)
    yield made
    made.close()


def instance(series_uid: str, day: int):
    start = NINE + timedelta(days=day)
    return replace(
        booking("Room A", start),
        uid=series_uid,
        recurrence_id=start,
        provider_id=f"series_{day}",
        provider_version=f'"{day}"',
    )


def test_an_instance_finds_its_own_reservations_and_none_of_its_siblings(services):
    series = [instance("series@example.com", day) for day in range(5)]
    made_here = replace(booking("Room A", NINE - timedelta(days=1)), origin=Origin.workplace)
    add(services, *series, made_here)
    with services.uow() as uow:
        found = uow.reservations.of_occurrences(
            1,
            ["series_1"],
            [("series@example.com", NINE + timedelta(days=3)), (made_here.uid, None)],
        )
    assert {uid: sorted(r.provider_id or "" for r in rs) for uid, rs in found.items()} == {
        "series@example.com": ["series_1", "series_3"],
        made_here.uid: [""],
    }


def test_an_instance_of_a_series_never_booked_finds_nothing(services):
    add(services, *[instance("series@example.com", day) for day in range(3)])
    with services.uow() as uow:
        found = uow.reservations.of_occurrences(
            1, ["other_1"], [("other@example.com", NINE + timedelta(days=1))]
        )
    assert found == {}
