"""Every list pages with an opaque cursor: walked page by page while rows are inserted,
it yields each row that existed when the walk began exactly once, and no row twice."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from calsync.domain.events import Action
from calsync.domain.items import WorkplaceItem
from calsync.sync import reservations as reservation_service

START = datetime(2026, 12, 2, 7, tzinfo=UTC)
_counter = itertools.count()


def add_reservation(api) -> str:
    """A reservation of Desk 1 at a new hour, before or after those already there."""
    n = next(_counter)
    offset = timedelta(hours=n if n % 2 else -n - 1)  # alternate late and early slots
    start = START + timedelta(days=20) + offset
    made = reservation_service.create(api.services, "Desk 1", start, start + timedelta(minutes=30))
    return made.id


def add_event(api) -> int:
    with api.services.uow() as uow:
        row = uow.events.add(uow.items.get("Desk 1").id, Action.notify, api.services.clock(), {})
        uow.commit()
        return row.id


def add_item(api) -> str:
    name = f"Desk x{next(_counter)}"
    with api.services.uow() as uow:
        uow.items.upsert(WorkplaceItem(name=name))
        uow.commit()
    return name


LISTS = {
    "reservations": ("/api/v1/reservations", add_reservation, "id"),
    "events": ("/api/v1/events", add_event, "id"),
    "workplace items": ("/api/v1/workplace-items", add_item, "name"),
}


@pytest.mark.parametrize("name", LISTS)
def test_a_list_walked_while_rows_are_inserted_loses_and_repeats_nothing(api, name):
    path, add, key = LISTS[name]
    for _ in range(11):
        add(api)
    before = {row[key] for row in api.get(path, params={"limit": 500}).json()["results"]}
    seen: list[object] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        answer = api.get(path, "admin", params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["results"]) <= 3
        seen += [row[key] for row in body["results"]]
        cursor = body["next_cursor"]
        pages += 1
        if cursor is None:
            break
        add(api)  # a row lands before the cursor, another after it: neither disturbs the walk
        add(api)
    assert len(seen) == len(set(seen)), "a row was shown twice"
    assert before <= set(seen), f"lost {before - set(seen)}"
    assert pages >= 4


def test_a_cursor_of_another_list_or_tampered_with_is_refused(api):
    for _ in range(3):
        add_event(api)
    cursor = api.get("/api/v1/events", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    for path in ("/api/v1/calendar-items", "/api/v1/reservations"):
        refused = api.get(path, params={"cursor": cursor})
        assert refused.status_code == 422
        assert "not a cursor of the" in refused.json()["detail"]
    for tampered in ("x" + cursor, "e30", "!!!", cursor[:-3]):
        assert api.get("/api/v1/events", params={"cursor": tampered}).status_code == 422


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_a_limit_outside_one_to_five_hundred_is_refused(api, limit):
    refused = api.get("/api/v1/events", params={"limit": limit})
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("query.limit:")


BEYOND_INTEGER = 2**31  # one past the largest id an INTEGER column holds on PostgreSQL

IDS_BEYOND_INTEGER = [
    ("GET", "/api/v1/events/{id}", None, {}),
    ("POST", "/api/v1/events/{id}/reprocess", None, {}),
    ("GET", "/api/v1/calendar-items/{id}", None, {}),
    ("GET", "/api/v1/synchronizations/{id}", None, {}),
    ("GET", "/api/v1/calendar-items", None, {"synchronization": "{id}"}),
    ("POST", "/api/v1/events/reprocess", {"ids": "[{id}]"}, {}),
]


@pytest.mark.parametrize(("method", "path", "body", "params"), IDS_BEYOND_INTEGER)
@pytest.mark.parametrize("number", [BEYOND_INTEGER, 2**70])
def test_an_id_too_large_for_any_row_is_refused_not_a_server_error(
    api, method, path, body, params, number
):
    """schemathesis sent such ids: SQLite's driver and PostgreSQL's int4 both failed on
    them (500) before the routes bounded their ids."""
    answer = api.call(
        method,
        path.replace("{id}", str(number)),
        params={key: value.replace("{id}", str(number)) for key, value in params.items()},
        json={"ids": [number]} if body else None,
    )
    assert answer.status_code == 422
    assert "less than or equal to 2147483647" in answer.json()["message"]


def test_a_cursor_holding_an_id_too_large_is_refused(api):
    from calsync.api.pagination import encode

    for name, path in (("events", "/api/v1/events"), ("calendar_items", "/api/v1/calendar-items")):
        for key in (BEYOND_INTEGER, 0, -1):
            refused = api.get(path, params={"cursor": encode(name, [key])})
            assert refused.status_code == 422, (path, key)
            assert "not a cursor of the" in refused.json()["detail"]
