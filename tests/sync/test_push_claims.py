"""Sending under a claim, against a real Radicale, on SQLite and PostgreSQL: a run that
lost its event to another worker sends and commits nothing more, and a create that
reached the calendar before its run was cut short is taken up, not failed, and never
written twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from calsync.errors import ClaimLost
from calsync.store.claims import Claim
from calsync.store.records import RecordFilter
from calsync.store.tables import ReservationRow
from calsync.sync.push import push_event
from tests.sync.calendars import drain, reservations, reserve, room_settings, sync

pytestmark = pytest.mark.radicale


@pytest.fixture
def room(make_services, room_calendar):
    services = make_services(room_settings(room_calendar))
    return services, services.provider("dav"), room_calendar


def _claim(services, event_id: int) -> Claim:
    with services.uow() as uow:
        claim = Claim.of(uow.events.claim_one(event_id, services.clock(), timedelta(seconds=60)))
        uow.commit()
    return claim


def _the_create(services) -> int:
    with services.uow() as uow:
        [event] = uow.events.find(RecordFilter(action="create"))
        return event.id


def test_a_run_that_lost_its_claim_sends_nothing_and_the_new_holder_sends_once(room, clock):
    services, provider, calendar = room
    reserve(services, "Board")
    event_id = _the_create(services)
    stalled = _claim(services, event_id)
    clock.advance(seconds=120)  # its lease ran out while it stalled ...
    taker = _claim(services, event_id)  # ... and another worker took the event over
    with pytest.raises(ClaimLost):
        push_event(services, event_id, stalled)
    assert provider.fetch_changes(calendar, None).changes == ()  # nothing was sent
    push_event(services, event_id, taker)
    assert len(provider.fetch_changes(calendar, None).changes) == 1
    with services.uow() as uow:
        assert uow.events.get(event_id).state == "processed"


def test_a_create_that_reached_the_calendar_before_its_run_died_is_taken_up(room):
    services, provider, calendar = room
    booked = reserve(services, "Board")
    event_id = _the_create(services)
    first = _claim(services, event_id)
    # The run sends, then dies before it records where the calendar put the booking:
    push_event(services, event_id, first)
    with services.uow() as uow:  # its last commit undone
        row = uow.events.get(event_id)
        row.state, row.claimed_until = "new", None
        uow.session.execute(
            update(ReservationRow)
            .where(ReservationRow.id == booked.id)
            .values(provider_id=None, provider_version=None)
        )
        uow.commit()
    drain(services)  # the retry finds its own object there
    with services.uow() as uow:
        event = uow.events.get(event_id)
    assert (event.state, event.error) == ("processed", "")
    assert len(provider.fetch_changes(calendar, None).changes) == 1
    [reservation] = reservations(services)
    assert reservation.provider_id is not None
    second = sync(services)
    with services.uow() as uow:
        items = uow.calendar_items.find(RecordFilter(synchronization_id=second.synchronization_id))
    assert [i.status for i in items] in ([], ["skipped"])
