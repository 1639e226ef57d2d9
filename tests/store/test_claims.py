"""The event queue's claims on SQLite and PostgreSQL: fencing tokens, leases that a live
run renews and a dead run loses, fair claims, and one queued poll per due item."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.events import Action
from calsync.errors import CalendarBusy, ClaimLost
from calsync.store.records import Claim, RecordFilter, new_event

LEASE = timedelta(seconds=60)


@pytest.fixture
def services(database_url, clock):
    made = start(
        parse(
            {"database": {"url": database_url}, "items": [{"name": "Room A"}, {"name": "Room B"}]}
        ),
        clock,
    )
    yield made
    made.close()


def queue(services, item: str, action: Action, reservation_id: str | None = None) -> int:
    with services.uow() as uow:
        event = uow.events.add(
            uow.items.get(item).id, action, services.clock(), {}, reservation_id=reservation_id
        )
        uow.commit()
        return event.id


def claim(services, limit: int = 1) -> list[Claim]:
    with services.uow() as uow:
        claims = [Claim.of(row) for row in uow.events.claim(services.clock(), LEASE, limit)]
        uow.commit()
    return claims


def hold(services, held: Claim) -> None:
    with services.uow() as uow:
        uow.events.hold(held, services.clock(), LEASE)
        uow.commit()


def test_a_run_whose_lease_ran_out_and_was_claimed_again_can_commit_nothing_more(services, clock):
    """The fence of an outbound event: the stalled run cannot mark it processed."""
    event_id = queue(services, "Room A", Action.respond)
    [stalled] = claim(services)
    clock.advance(seconds=61)
    [taken_over] = claim(services)
    assert taken_over.event_id == event_id
    assert taken_over.token > stalled.token
    with services.uow() as uow, pytest.raises(ClaimLost, match=f"event {event_id}"):
        uow.events.hold(stalled, clock(), LEASE)
    hold(services, taken_over)  # the new owner goes on


def test_a_renewed_lease_keeps_the_event_from_other_workers(services, clock):
    queue(services, "Room A", Action.respond)
    [running] = claim(services)
    for _ in range(5):  # a long run, renewed every 20 s
        clock.advance(seconds=20)
        hold(services, running)
    assert claim(services) == []
    clock.advance(seconds=61)  # renewals stopped: the run died
    assert [c.event_id for c in claim(services)] == [running.event_id]


def test_a_released_claim_is_refused_and_the_event_is_due_again(services):
    queue(services, "Room A", Action.respond)
    [running] = claim(services)
    with services.uow() as uow:
        assert uow.events.release(running, services.clock())
        uow.commit()
    with services.uow() as uow, pytest.raises(ClaimLost):
        uow.events.hold(running, services.clock(), LEASE)
    assert [c.event_id for c in claim(services)] == [running.event_id]


def test_a_due_read_is_claimed_before_a_backlog_of_outbound_events(services, clock):
    with services.uow() as uow:
        room = uow.items.get("Room A").id
        uow.events.add_many(
            [new_event(room, Action.respond, clock(), {"n": n}) for n in range(1000)]
        )
        uow.commit()
    clock.advance(seconds=1)
    read = queue(services, "Room B", Action.read)
    [first] = claim(services)
    assert first.event_id == read


def test_outbound_events_of_one_reservation_run_one_at_a_time_and_in_order(services):
    first = queue(services, "Room A", Action.create, reservation_id="r1")
    second = queue(services, "Room A", Action.update, reservation_id="r1")
    other = queue(services, "Room A", Action.create, reservation_id="r2")
    claimed = claim(services, limit=10)
    assert {c.event_id for c in claimed} == {first, other}
    with services.uow() as uow:
        uow.events.get(first).state = "processed"
        uow.commit()
    assert [c.event_id for c in claim(services, limit=10)] == [second]


def test_sync_takes_over_a_read_whose_run_died(services, clock):
    dead = queue(services, "Room A", Action.read)
    [stuck] = claim(services)
    clock.advance(seconds=61)  # nobody renewed the lease: its process was killed
    waiting = queue(services, "Room A", Action.read)
    with services.uow() as uow:
        row = uow.events.claim_one(waiting, clock(), LEASE)
        uow.commit()
        assert row.state == "processing"
    with services.uow() as uow:
        assert uow.events.get(dead).state == "new"  # queued again, nothing lost
        assert f"event {waiting} took the calendar over" in uow.events.get(dead).error
        with pytest.raises(ClaimLost):
            uow.events.hold(stuck, clock(), LEASE)


def test_a_busy_calendar_names_the_run_that_holds_it_since_when_and_until_when(services, clock):
    holder = queue(services, "Room A", Action.read)
    claim(services)
    clock.advance(seconds=30)
    waiting = queue(services, "Room A", Action.read)
    with services.uow() as uow, pytest.raises(CalendarBusy) as refused:
        uow.events.claim_one(waiting, clock(), LEASE)
    message = str(refused.value)
    assert f"event {holder} has held it since 2026-12-01 08:00:00 UTC" in message
    assert "lease runs until 2026-12-01 08:01:00 UTC" in message
    assert "'Room A'" in message
    assert "takes it over once the lease has run out" in message


def test_a_due_poll_is_queued_once_by_workers_polling_at_once(services, clock):
    """Worker A checks and queues the poll; worker B polls the same item before A commits.
    B waits for A (PostgreSQL: the item's queue lock; SQLite: one writer at a time) and
    then finds A's read waiting."""
    now = clock()
    payload = {"item": "Room A", "full": False, "confirm_sweep": False}
    with services.uow() as uow:
        room = uow.items.get("Room A").id
    results: list[int | None] = []

    def worker_b() -> None:
        with services.uow() as uow:
            results.append(uow.events.queue_read(room, now, payload, due_before=now))
            uow.commit()

    with services.uow() as first:
        mine = first.events.queue_read(room, now, payload, due_before=now)
        racing = threading.Thread(target=worker_b)
        racing.start()
        time.sleep(0.5)
        first.commit()
    racing.join(timeout=30)
    assert results == [mine]
    with services.uow() as uow:
        assert len(uow.events.find(RecordFilter(action="read"))) == 1


def test_a_poll_is_not_queued_while_a_read_of_the_item_runs(services, clock):
    queue(services, "Room A", Action.read)
    claim(services)
    with services.uow() as uow:
        room = uow.items.get("Room A").id
        payload = {"item": "Room A", "full": False, "confirm_sweep": False}
        assert uow.events.queue_read(room, clock(), payload, due_before=clock()) is None


def test_outbound_events_are_claimed_by_turns_across_items(services, clock):
    """One room's backlog of answers does not hold another room's booking back."""
    with services.uow() as uow:
        room_a = uow.items.get("Room A").id
        uow.events.add_many(
            [new_event(room_a, Action.respond, clock(), {"n": n}) for n in range(100)]
        )
        uow.commit()
    clock.advance(seconds=1)
    booking = queue(services, "Room B", Action.create, reservation_id="r-b")
    claimed = claim(services, limit=2)
    assert booking in {c.event_id for c in claimed}


def test_a_booking_made_in_calsync_goes_before_the_rooms_answers_of_its_item(services, clock):
    """A first synchronization queues an answer per meeting; a booking made meanwhile in
    the same room does not wait behind them."""
    with services.uow() as uow:
        room_a = uow.items.get("Room A").id
        uow.events.add_many(
            [new_event(room_a, Action.respond, clock(), {"n": n}) for n in range(100)]
        )
        uow.commit()
    clock.advance(seconds=1)
    booking = queue(services, "Room A", Action.create, reservation_id="r-a")
    [claimed] = claim(services, limit=1)
    assert claimed.event_id == booking


def test_a_booking_goes_before_the_answers_of_every_room(services, clock):
    """Each room's next answer takes its turn before a booking queued later; bookings
    still go first."""
    with services.uow() as uow:
        rooms = [uow.items.get(name).id for name in ("Room A", "Room B")]
        uow.events.add_many(
            [
                new_event(room, Action.respond, clock(), {"n": n})
                for n in range(50)
                for room in rooms
            ]
        )
        uow.commit()
    clock.advance(seconds=1)
    booking = queue(services, "Room B", Action.create, reservation_id="r-b")
    [claimed] = claim(services, limit=1)
    assert claimed.event_id == booking


def test_reads_and_outbound_events_are_claimed_apart(services):
    # A worker claims reads for its free slots and outbound events ahead: a read claimed
    # ahead would hold its calendar back from the other workers.
    reads = {queue(services, item, Action.read) for item in ("Room A", "Room B")}
    answers = {queue(services, "Room A", Action.respond, f"r{n}") for n in range(4)}
    with services.uow() as uow:
        outbound = {row.id for row in uow.events.claim(services.clock(), LEASE, 64, reads=False)}
        only_reads = {
            row.id for row in uow.events.claim(services.clock(), LEASE, 64, outbound=False)
        }
        uow.commit()
    assert outbound == answers
    assert only_reads == reads
