"""Each item's synchronization state as the API and /metrics show it, on SQLite and
PostgreSQL: its newest synchronization, when one last succeeded, and how many of its
events wait or ended in error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.events import Action
from calsync.store.overview import item_states
from calsync.store.tables import SynchronizationRow

NINE = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
def services(database_url, clock):
    items = [{"name": "Room A"}, {"name": "Room B"}, {"name": "Room C"}]
    made = start(parse({"database": {"url": database_url}, "items": items}), clock)
    yield made
    made.close()


def synchronization(item_id: int, minute: int, outcome: str) -> SynchronizationRow:
    began = NINE + timedelta(minutes=minute)
    return SynchronizationRow(
        item_id=item_id,
        started_at=began,
        finished_at=began + timedelta(seconds=2),
        mode="incremental",
        outcome=outcome,
    )


def test_an_items_state_is_its_newest_synchronization_and_its_last_success(services):
    with services.uow() as uow:
        a, b, c = (uow.items.get(name).id for name in ("Room A", "Room B", "Room C"))
        for item_id, minute, outcome in [
            (a, 0, "succeeded"),
            (b, 1, "succeeded"),
            (a, 5, "succeeded"),
            (b, 6, "failed"),
            (a, 10, "failed"),
            (a, 15, "failed"),
        ]:
            uow.session.add(synchronization(item_id, minute, outcome))
        for state in ("new", "error", "error", "processed"):
            event = uow.events.add(a, Action.read, NINE, {})
            event.state = state
        uow.events.add(c, Action.create, NINE, {})
        uow.commit()
    with services.read() as uow:
        states = item_states(uow.session, [a, b, c])
    assert states[a].last is not None
    assert (states[a].last.outcome, states[a].last.started_at) == (
        "failed",
        NINE + timedelta(minutes=15),
    )
    assert states[a].last_succeeded_at == NINE + timedelta(minutes=5, seconds=2)
    assert (states[a].events_waiting, states[a].events_in_error) == (1, 2)
    assert states[b].last is not None
    assert states[b].last.outcome == "failed"
    assert states[b].last_succeeded_at == NINE + timedelta(minutes=1, seconds=2)
    assert states[c].last is None
    assert states[c].last_succeeded_at is None
    assert (states[c].events_waiting, states[c].events_in_error) == (1, 0)
