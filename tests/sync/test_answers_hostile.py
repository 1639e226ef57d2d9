"""Room answers sent together (`send_answers`) against what tries to break them: a payload
missing a key, a meeting deleted or answered twice meanwhile, a database failing in the
final commit, a worker killed or stopping mid-batch. Real Radicale, SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import OperationalError

from calsync.store.records import Claim, RecordFilter
from calsync.store.reservations import ReservationRepository
from calsync.store.tables import EventRow
from calsync.worker.dispatch import Dispatcher
from calsync.worker.runner import claim_next, lease_of
from calsync.worker.scheduler import run_due
from tests.conftest import Killed
from tests.sync.calendars import answer_states, partstats, reservations, sync
from tests.sync.man_in_the_middle import Hook

pytestmark = pytest.mark.radicale


def _answers(services) -> list[EventRow]:
    with services.uow() as uow:
        rows = uow.events.find(RecordFilter(action="respond", limit=100))
        uow.session.expunge_all()
        return sorted(rows, key=lambda row: row.id)


def _edit_payload(services, event_id: int, edit) -> None:
    with services.uow() as uow:
        row = uow.events.get(event_id)
        payload = json.loads(row.payload)
        edit(payload)
        row.payload = json.dumps(payload)
        uow.commit()


def test_an_answer_whose_payload_lacks_its_provider_id_fails_alone_not_the_worker(three_answers):
    # A KeyError out of the batch once stopped `calsync worker`, its claims stuck until
    # their leases ran out, and the next worker to claim the event stopped the same way.
    services, _wire, _organizer, _calendar, _ = three_answers
    broken = _answers(services)[1].id
    _edit_payload(services, broken, lambda payload: payload.pop("provider_id"))
    run_due(services)
    states = {row.id: row.state for row in _answers(services)}
    assert [state for event_id, state in states.items() if event_id != broken] == [
        "processed",
        "processed",
    ]
    assert states[broken] in ("new", "error")


def test_the_organizer_deleting_the_meeting_before_its_answer_is_sent_cancels_it(three_answers):
    services, wire, organizer, calendar, hrefs = three_answers

    def organizer_deletes(request):
        organizer.delete(calendar, hrefs["b"], None)

    wire.hooks.append(Hook("PUT", organizer_deletes, when=lambda r, seen: r.url.path == hrefs["b"]))
    run_due(services)
    assert answer_states(services) == ["processed"] * 3
    assert set(partstats(organizer, calendar)) == {"a", "c"}
    by_uid = {r.uid: r.status.value for r in reservations(services)}
    assert by_uid["b"] == "cancelled"


def test_two_answers_to_one_object_in_one_batch_write_it_once(three_answers):
    # Two reservations may mirror one object (occurrences of a series), and an answer
    # decided with no change to any reservation names none: nothing in the claim keeps
    # two answers to one calendar object apart.
    services, wire, organizer, calendar, _ = three_answers
    first = _answers(services)[0]
    with services.uow() as uow:
        twin = EventRow(
            item_id=first.item_id,
            action="respond",
            state="new",
            payload=first.payload,
            reservation_id=None,
            created_at=first.created_at,
            updated_at=first.updated_at,
            next_attempt_at=first.next_attempt_at,
        )
        uow.session.add(twin)
        uow.commit()
    run_due(services)
    assert answer_states(services) == ["processed"] * 4
    # The twin's If-Match is refused; handed back to run alone, it is sent (and refused)
    # once more and the object read once more: 5 PUTs, 2 reads where 4 and 1 would do.
    assert wire.methods.count("PUT") <= 5
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}
    sync(services)  # our own answer is not taken for the organizer's change
    assert all(r.status.value != "cancelled" for r in reservations(services))


def test_a_database_error_in_the_final_commit_loses_no_answer(three_answers, clock, monkeypatch):
    services, _wire, organizer, calendar, _ = three_answers
    real = ReservationRepository.set_versions_written
    calls = []

    def fails_once(self, written):
        calls.append(len(written))
        if len(calls) == 1:
            raise OperationalError("UPDATE reservations", {}, Exception("connection reset"))
        return real(self, written)

    monkeypatch.setattr(ReservationRepository, "set_versions_written", fails_once)
    run_due(services)
    assert answer_states(services) == ["processing"] * 3  # the claims lapse
    clock.advance(minutes=2)
    run_due(services)
    assert answer_states(services) == ["processed"] * 3
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}
    sync(services)
    assert all(r.status.value != "cancelled" for r in reservations(services))


def test_a_worker_killed_mid_batch_leaves_answers_that_are_taken_over_and_finished(
    three_answers, clock
):
    services, wire, organizer, calendar, _ = three_answers

    def killed(request):
        raise Killed

    wire.hooks.append(Hook("PUT", killed, nth=3))  # a and b landed, not recorded
    with pytest.raises(Killed):
        run_due(services)
    assert answer_states(services) == ["processing"] * 3
    clock.advance(seconds=lease_of(services).total_seconds() + 1)
    run_due(services)
    assert answer_states(services) == ["processed"] * 3
    assert "error" not in [row.state for row in _answers(services)]
    assert partstats(organizer, calendar) == {"a": "ACCEPTED", "b": "ACCEPTED", "c": "ACCEPTED"}
    sync(services)
    assert all(r.status.value != "cancelled" for r in reservations(services))


def test_answers_given_back_by_a_stopping_worker_are_not_sent_by_the_run_that_gave_them(
    three_answers,
):
    # A worker stopping (SIGTERM past its grace) gives the claims of its runs back, due at
    # once for another worker: a run of answers still going must send nothing more.
    services, wire, _organizer, _calendar, _ = three_answers
    dispatcher = Dispatcher(services, concurrency=1)
    other: list[Claim] = []

    def stop_and_give_back(request):
        dispatcher.stop()
        dispatcher.drain(0, lambda result: None)
        with services.uow() as uow:  # another worker takes them
            now = services.clock()
            other.extend(Claim.of(row) for row in uow.events.claim(now, lease_of(services), 10))
            uow.commit()

    wire.hooks.append(Hook("PUT", stop_and_give_back, nth=1))
    results = []
    dispatcher.run(lambda limit, kind: claim_next(services, limit, kind), results.append)
    dispatcher.close()
    assert len(other) == 3
    assert wire.methods.count("PUT") == 1, "the run sent answers whose claims it gave back"
