"""Room answers sent together (`send_answers`, through the dispatcher of `calsync worker`):
what each answer's own run guarded still holds when eight share their bookkeeping. Against
a real Radicale behind a man in the middle, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from calsync.bootstrap import start
from calsync.store.records import Claim
from calsync.sync.reservations import create
from calsync.worker import dispatch
from calsync.worker.dispatch import Dispatcher
from calsync.worker.runner import claim_next, lease_of, request_sync, run_claimed
from calsync.worker.scheduler import run_due
from tests.conftest import settings_for
from tests.sync.calendars import (
    answer_states,
    book,
    ics,
    partstats,
    reservations,
    room_settings,
    sync,
    vevent,
)
from tests.sync.man_in_the_middle import Hook, unavailable, wired

pytestmark = pytest.mark.radicale


def _puts(wire) -> int:
    return wire.methods.count("PUT")


def test_answers_sent_together_all_reach_the_calendar(three_answers):
    services, wire, organizer, calendar, _ = three_answers
    run_due(services)
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}
    assert answer_states(services) == ["processed"] * 3
    assert _puts(wire) == 3


def test_a_move_saved_between_the_read_and_an_answer_sent_together_is_applied_first(three_answers):
    services, wire, organizer, calendar, hrefs = three_answers

    def organizer_moves(request):
        start, end = "20261203T140000", "20261203T150000"
        organizer.update(calendar, hrefs["b"], ics(vevent("b", start, end, sequence=1)), None)

    wire.hooks.append(Hook("PUT", organizer_moves, when=lambda r, seen: r.url.path == hrefs["b"]))
    run_due(services)
    sync(services)
    moved = {r.uid: r for r in reservations(services)}["b"]
    assert moved.start.hour == 13  # 14:00 in Berlin: the organizer's move was not swallowed
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}
    assert "error" not in answer_states(services)


def test_a_service_that_says_wait_holds_the_rest_of_the_batch_back_until_it_may_be_asked(
    three_answers, clock
):
    services, wire, organizer, calendar, hrefs = three_answers
    wire.hooks.append(Hook("PUT", unavailable, when=lambda r, seen: r.url.path == hrefs["b"]))
    run_due(services)
    first = partstats(organizer, calendar)
    assert first["b"] == "NEEDS-ACTION"
    # What was not sent waits for its retry (503 with Retry-After): none in error, and no
    # answer after b was sent to the service that had just said to wait.
    sent = sum(state == "ACCEPTED" for state in first.values())
    assert answer_states(services) == sorted(["new"] * (3 - sent) + ["processed"] * sent)
    assert _puts(wire) == sent + 1
    clock.advance(minutes=5)
    run_due(services)
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}
    assert answer_states(services) == ["processed"] * 3


def test_a_long_batch_renews_its_leases_so_no_other_worker_sends_its_answers_again(
    database_url, radicale, room_calendar
):
    # Real clocks and a one-second lease: three answers sent together, each taking 0.6 s.
    settings = settings_for(
        database_url,
        radicale.url,
        room_settings(room_calendar),
        {"lease_seconds": 1.0, "push_concurrency": 1},
    )
    first, second = start(settings), start(settings)
    try:
        for day, uid in enumerate("abc", 2):
            book(second.provider("dav"), room_calendar, uid, day)
        sync(first)
        wire = wired(first, radicale.url)
        taken: list[int] = []

        def slow_server(request):
            time.sleep(0.6)
            with second.uow() as uow:  # another worker looks for work whose lease ran out
                taken.extend(
                    row.id for row in uow.events.claim(second.clock(), lease_of(second), 10)
                )
                uow.commit()

        for nth in (1, 2, 3):
            wire.hooks.append(Hook("PUT", slow_server, nth=nth))
        run_due(first)
        assert taken == [], "another worker claimed answers this run still held"
        assert answer_states(first) == ["processed"] * 3
        assert _puts(wire) == 3
    finally:
        first.close()
        second.close()


def test_answers_taken_over_mid_batch_are_neither_sent_again_nor_recorded_by_it(
    three_answers, clock
):
    services, wire, organizer, calendar, _ = three_answers
    lease = lease_of(services)
    other: list[Claim] = []

    def stalled_past_the_lease(request):
        clock.advance(seconds=lease.total_seconds() + 1)
        with services.uow() as uow:  # another worker takes every event over
            other.extend(Claim.of(row) for row in uow.events.claim(clock(), lease, 10))
            uow.commit()

    wire.hooks.append(Hook("PUT", stalled_past_the_lease, nth=2))
    run_due(services)
    assert len(other) == 3
    assert _puts(wire) == 2, "the stalled run sent an answer it no longer held"
    assert answer_states(services) == ["processing"] * 3, "the stalled run recorded answers it lost"
    for claim in other:  # the worker that took them over finishes them
        run_claimed(services, claim)
    assert answer_states(services) == ["processed"] * 3
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}


def test_claimed_events_waiting_a_third_of_their_lease_are_given_back_before_they_start(
    make_services, room_calendar, clock, monkeypatch
):
    services = make_services(room_settings(room_calendar))
    for day in (5, 6, 7, 8):  # four bookings made in calsync: four create events
        start_at = datetime(2026, 12, day, 9, tzinfo=UTC)
        create(services, "Room A", start_at, start_at + timedelta(hours=1), f"Booking {day}")
    lease = lease_of(services)
    left_at_start: list[timedelta] = []

    def slow_run(services, claims, giving_back):
        with services.uow() as uow:
            row = uow.events.get(claims[0].event_id)
            left_at_start.append(row.claimed_until - clock())
            row.state, row.claimed_until = "processed", None
            uow.commit()
        clock.advance(seconds=lease.total_seconds() * 0.4)
        return []

    monkeypatch.setattr(dispatch, "_run", slow_run)
    dispatcher = Dispatcher(services, concurrency=1)
    dispatcher.run(lambda limit, kind: claim_next(services, limit, kind), lambda result: None)
    dispatcher.close()
    assert len(left_at_start) == 4
    assert min(left_at_start) > lease * 2 / 3, "an event started late in its lease"


def test_a_read_due_behind_outbound_events_claimed_ahead_takes_the_next_free_slot(
    make_services, room_calendar, clock, monkeypatch
):
    # A backlog of outbound events never delays a due read, even those claimed ahead.
    services = make_services(room_settings(room_calendar))
    for day in range(5, 15):  # ten bookings made in calsync: ten create events
        start_at = datetime(2026, 12, day, 9, tzinfo=UTC)
        create(services, "Room A", start_at, start_at + timedelta(hours=1), f"Booking {day}")
    order: list[str] = []

    def recorded_run(services, claims, giving_back):
        with services.uow() as uow:
            for claimed in claims:
                row = uow.events.get(claimed.event_id)
                order.append(row.action)
                row.state, row.claimed_until = "processed", None
            uow.commit()
        if len(order) == 1:
            request_sync(services, "Room A")  # a poll falls due meanwhile
        return []

    monkeypatch.setattr(dispatch, "_run", recorded_run)
    dispatcher = Dispatcher(services, concurrency=1)
    dispatcher.run(lambda limit, kind: claim_next(services, limit, kind), lambda result: None)
    dispatcher.close()
    assert order.index("read") == 1, order
