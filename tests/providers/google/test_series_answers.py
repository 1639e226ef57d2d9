"""The room answers someone's recurring meeting once, on the series, where Google lists
each instance as an event of its own: calsync's production code on the emulator, on both
databases. Answered instance by instance, each instance became an exception of the
series, which stayed behind at its old time when its organizer moved the series."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.domain.entries import Window
from calsync.domain.reservations import ReservationStatus
from calsync.store.records import RecordFilter
from calsync.worker.dispatch import Dispatcher
from calsync.worker.outbound import send_outbound
from calsync.worker.runner import claim_next, run_once
from tests.providers.google.conftest import ROOM, make_provider, someone_elses, timed
from tests.sync.calendars import drain, reservations, sync

pytestmark = pytest.mark.timeout(90)

DAILY = "RRULE:FREQ=DAILY;COUNT={}"
HELD = (ReservationStatus.confirmed, ReservationStatus.awaiting_confirmation)


def _series(google, count: int, hour: int = 10) -> dict[str, Any]:
    """Alice's daily meeting from 1 November at `hour` (Berlin), the room invited."""
    return google.put_event(
        ROOM, someone_elses(1, hour, month=11, recurrence=[DAILY.format(count)])
    )


def _instance(series: dict[str, Any], day: int, hour: int = 10) -> str:
    """The id of the series' instance originally on `day` November at `hour` Berlin."""
    return f"{series['id']}_202611{day:02d}T{hour - 1:02d}0000Z"


def _room_answer(event: dict[str, Any]) -> str:
    [room] = [a for a in event["attendees"] if a["email"] == ROOM]
    return str(room["responseStatus"])


def _listed(google) -> list[dict[str, Any]]:
    """Every live instance and event of the room's calendar, as calsync's reads list them."""
    with make_provider(google) as adapter:
        return [json.loads(c.data or b"") for c in adapter.fetch_changes(ROOM, None).changes]


def _start(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["start"]["dateTime"])


def _held(services) -> list[datetime]:
    """The starts of the reservations holding the room."""
    return sorted(r.start for r in reservations(services) if r.status in HELD)


def _patches(google) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in google.requests if r.method == "PATCH"]


def _answers(services) -> list[tuple[str, str]]:
    with services.uow() as uow:
        found = uow.events.find(RecordFilter(action="respond", limit=1000))
    return [(e.state, e.error) for e in found]


def _hours(starts: list[datetime]) -> set[int]:
    return {start.astimezone(UTC).hour + 1 for start in starts}  # CET: UTC+1 in November


def test_after_alice_moves_her_answered_series_no_instance_stays_at_its_old_time(google, services):
    series = _series(google, 30)
    sync(services)
    drain(services)
    moved = timed(1, 11, month=11)
    google.patch_event(ROOM, series["id"], {"start": moved["start"], "end": moved["end"]})
    sync(services)
    drain(services)
    listed = _listed(google)
    assert len(listed) == 30
    assert _hours([_start(e) for e in listed]) == {11}
    assert {_room_answer(e) for e in listed} == {"accepted"}
    held = _held(services)
    assert len(held) == 30, "calsync holds the room at the old and the new times"
    assert _hours(held) == {11}


def test_occurrences_given_another_answer_are_answered_alone_and_the_rest_on_the_series(
    google, services
):
    """A meeting already holds the room on 3 November at ten: that occurrence of Alice's
    series is declined, by a write of its own; the four others accepted by one write."""
    review = someone_elses(3, 10, month=11)
    review["summary"] = "Review"
    google.put_event(ROOM, review)
    sync(services)
    drain(services)
    series = _series(google, 5)
    sync(services)
    google.reset_counters()
    drain(services)
    assert sorted(_patches(google)) == sorted([series["id"], _instance(series, 3)])
    answers = {e["id"]: _room_answer(e) for e in _listed(google) if e["summary"] == "Planning"}
    assert answers == {
        _instance(series, day): "declined" if day == 3 else "accepted" for day in range(1, 6)
    }
    statuses = sorted(r.status for r in reservations(services) if r.subject == "Planning")
    assert statuses == [ReservationStatus.confirmed] * 4 + [ReservationStatus.declined]


def test_an_instance_with_attendees_of_its_own_is_answered_on_its_own(google, services):
    """Alice invited Carol to the third occurrence only: it is an exception with its own
    attendees, which the series' answer does not reach."""
    series = _series(google, 5)
    third = _instance(series, 3)
    carol = {"email": "carol@example.com", "responseStatus": "needsAction"}
    google.patch_event(ROOM, third, {"attendees": [*series["attendees"], carol]})
    sync(services)
    google.reset_counters()
    drain(services)
    assert sorted(_patches(google)) == sorted([series["id"], third])
    listed = {e["id"]: e for e in _listed(google)}
    assert {i: _room_answer(e) for i, e in listed.items()} == {
        _instance(series, day): "accepted" for day in range(1, 6)
    }
    assert "carol@example.com" in {a["email"] for a in listed[third]["attendees"]}
    assert {state for state, _ in _answers(services)} == {"processed"}


def test_instances_of_a_series_the_room_cannot_see_are_answered_one_by_one(google, services):
    """The room's calendar holds three instances of a series whose event it cannot read
    (Google answers 404 for it): each instance is answered on its own."""
    for day in (1, 2, 3):
        instance = someone_elses(day, 10, month=11)
        instance.update(
            id=f"hiddenseries_202611{day:02d}T090000Z",
            iCalUID="hidden-series@example.com",
            recurringEventId="hiddenseries",
            originalStartTime=dict(instance["start"]),
        )
        google.put_event(ROOM, instance)
    sync(services)
    google.reset_counters()
    drain(services)
    assert len(_patches(google)) == 3
    assert {_room_answer(e) for e in _listed(google)} == {"accepted"}
    assert _answers(services) == [("processed", "")] * 3


def test_a_room_invited_to_some_occurrences_only_is_not_invited_to_the_whole_series(
    google, services
):
    """Alice invited the room to the first two occurrences only: their answers written on
    the series would invite the room to every occurrence."""
    invited = someone_elses(1, 10, month=11, recurrence=[DAILY.format(3)])
    others = [a for a in invited["attendees"] if a["email"] != ROOM]
    series = google.put_event(ROOM, {**invited, "attendees": others})
    for day in (1, 2):
        google.patch_event(ROOM, _instance(series, day), {"attendees": invited["attendees"]})
    sync(services)
    drain(services)
    assert ROOM not in {a["email"] for a in google.event(ROOM, series["id"])["attendees"]}
    answers = {day: _room_answer(google.event(ROOM, _instance(series, day))) for day in (1, 2)}
    assert answers == {1: "accepted", 2: "accepted"}


def test_a_series_alice_moves_between_calsyncs_read_and_write_is_read_and_decided_again(
    google, services, monkeypatch
):
    """Alice moves her series to eleven right after calsync listed its instances: the
    answer's write is refused (412). Written over the moved series, it would accept a
    time calsync never decided, where the room is taken on 3 November. It is read again,
    decided again and answered there: declined where the room is taken."""
    review = someone_elses(3, 11, month=11)
    review["summary"] = "Review"
    google.put_event(ROOM, review)
    sync(services)
    drain(services)
    series = _series(google, 5)
    sync(services)
    moved = timed(1, 11, month=11)
    provider = services.provider("workspace")
    listing, alice_moved = provider.instances, []

    def instances_then_alice_moves(calendar, series_id, window):
        listed = listing(calendar, series_id, window)
        if not alice_moved:
            google.patch_event(ROOM, series_id, {"start": moved["start"], "end": moved["end"]})
            alice_moved.append(series_id)
        return listed

    monkeypatch.setattr(provider, "instances", instances_then_alice_moves)
    run_once(services, limit=1)  # the series' answers, in one run
    assert alice_moved == [series["id"]]
    assert _room_answer(google.event(ROOM, series["id"])) == "needsAction"
    assert {state for state, _ in _answers(services)} == {"processed"}
    drain(services)  # the read queued for the moved series, and its answers
    listed = [e for e in _listed(google) if e["summary"] == "Planning"]
    assert _hours([_start(e) for e in listed]) == {11}
    answers = {_start(e).day: _room_answer(e) for e in listed}
    assert answers == {day: "declined" if day == 3 else "accepted" for day in range(1, 6)}
    held = _held(services)
    assert len(held) == 5  # the review and four occurrences, nothing at ten
    assert _hours(held) == {11}


def test_a_worker_sends_a_series_answers_in_one_write(google, services):
    """The worker's dispatcher spreads answers over its slots; a series' answers stay in
    one run, so that the series is written once, not once by each slot."""
    _series(google, 30)
    sync(services)
    google.reset_counters()
    dispatcher = Dispatcher(services, concurrency=8)
    dispatcher.run(lambda limit, kind: claim_next(services, limit, kind), lambda result: None)
    dispatcher.close()
    assert len(_patches(google)) == 1
    assert _answers(services) == [("processed", "")] * 30


def test_a_database_failing_while_a_run_joins_its_series_answers_sends_those_it_holds(
    google, services, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    from calsync.worker import runner

    _series(google, 5)
    sync(services)
    held = claim_next(services, 5, "outbound")

    def database_gone(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(runner, "join_series", database_gone)
    google.reset_counters()
    results = runner.run_answers(services, held)
    assert [(r.outcome, r.error) for r in results] == [("processed", "")] * 5
    assert len(_patches(google)) == 1


def test_calsync_sync_sends_the_answers_of_a_series_longer_than_its_claim_in_one_write(
    google, services
):
    """`calsync sync` claims 64 answers at a time (8 slots, 8 each): the run of the
    series' answers joins the other six, which the report counts as sent."""
    _series(google, 70)
    sync(services)
    with services.uow() as uow:
        room = uow.items.get("Room A").id
    google.reset_counters()
    report = send_outbound(services, [room])
    assert report.sent == {room: 70}
    assert len(_patches(google)) == 1


def test_the_instances_of_a_long_series_are_listed_page_by_page(google):
    series = _series(google, 7)
    with make_provider(google, page_size=2) as adapter:
        google.reset_counters()
        found = adapter.instances(
            ROOM, series["id"], _window(datetime(2026, 11, 2), datetime(2026, 11, 6))
        )
    assert [c.provider_id for c in found] == [_instance(series, day) for day in range(2, 6)]
    assert len([r for r in google.requests if r.operation != "token"]) == 2
    assert adapter.series_of(found[0].data or b"") == series["id"]


def _window(start: datetime, end: datetime) -> Window:
    return Window(start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
