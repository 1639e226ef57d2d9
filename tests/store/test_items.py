"""Workplace items in the store keep every rule of their booking policy."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from calsync.bootstrap import start
from calsync.config import parse
from calsync.store.tables import ItemRow

POLICY = {
    "booking_window_days": 30,
    "max_duration_hours": 2.5,
    "working_hours_only": True,
    "working_hours": {"start": "07:30", "end": "19:00", "days": ["mon", "sat"]},
    "allow_recurring": False,
    "allow_conflicts": True,
    "series_max_conflict_percent": 25,
    "series_max_conflicts": 3,
    "book_in_policy": ["example.com"],
    "request_out_of_policy": ["boss@partner.org"],
    "check_in_required": True,
    "check_in_opens_minutes": 5,
    "no_show_after_minutes": 20,
}


@pytest.fixture
def services(tmp_path, clock):
    settings = parse(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'calsync.db'}"},
            "items": [{"name": "Room A", "policy": POLICY}, {"name": "Room B"}],
        }
    )
    made = start(settings, clock)
    yield made
    made.close()


def test_a_stored_item_has_the_policy_it_was_configured_with(services):
    configured = {item.name: item.policy for item in services.settings.workplace_items()}
    with services.uow() as uow:
        assert uow.items.get("Room A").item.policy == configured["Room A"]
        assert uow.items.get("Room B").item.policy == configured["Room B"]


def test_a_policy_stored_before_the_newer_rules_reads_with_their_defaults(services):
    older = {"booking_window": 86400.0, "max_duration": None, "decline_conflicts": False}
    with services.uow() as uow:
        uow.session.execute(
            update(ItemRow).where(ItemRow.name == "Room B").values(policy=json.dumps(older))
        )
        uow.commit()
    with services.uow() as uow:
        policy = uow.items.get("Room B").item.policy
    assert policy.allow_conflicts  # it declined no conflicts
    assert policy.allow_recurring
    assert not policy.working_hours_only
    assert policy.book_in_policy == ()
    assert not policy.check_in_required
    assert policy.no_show_after.total_seconds() == 15 * 60
