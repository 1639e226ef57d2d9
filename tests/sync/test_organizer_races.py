"""An organizer's change saved at each moment of calsync's outbound writes, against a
real Radicale behind a man in the middle, on SQLite and PostgreSQL: servers that give no
ETag or a weak one, answers that land out of order, a crash before an event finishes,
a read that comes before the push, and what `sync --full` repairs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.providers.caldav import CalDAVProvider
from calsync.store.records import RecordFilter
from calsync.store.tables import ReservationRow
from calsync.sync import push
from calsync.sync import reservations as reservation_service
from calsync.sync.reprocess import reprocess
from calsync.worker.runner import run_once
from tests.conftest import Killed
from tests.sync.calendars import (
    drain,
    ics,
    reservations,
    reserve,
    room_settings,
    sync,
    third_cancelled_in_calsync_then_renamed,
    vevent,
)
from tests.sync.man_in_the_middle import (
    Hook,
    unavailable,
    weak_etag_on_get,
    wired,
    without_etag_on,
)

pytestmark = pytest.mark.radicale


@pytest.fixture
def room(make_services, room_calendar, radicale):
    """calsync's connection goes through a `Wire`; the organizer writes to Radicale directly."""
    services = make_services(room_settings(room_calendar))
    wire = wired(services, radicale.url)
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    yield services, wire, organizer, room_calendar
    organizer.close()


def _entry(provider, calendar, uid: str) -> bytes:
    [entry] = [
        c
        for c in provider.fetch_changes(calendar, None).changes
        if f"UID:{uid}".encode() in (c.data or b"")
    ]
    return (entry.data or b"").replace(b"\r\n ", b"")


def _meeting(organizer, calendar, uid: str, start: str, end: str, sequence: int = 0) -> str:
    return organizer.create(
        calendar, uid, ics(vevent(uid, start, end, sequence=sequence))
    ).provider_id


def _move(organizer, calendar, href: str, uid: str, start: str, end: str, sequence: int) -> None:
    organizer.update(calendar, href, ics(vevent(uid, start, end, sequence=sequence)), None)


def _by_uid(services):
    return {r.uid: r for r in reservations(services)}


def _rounds(services, clock, count: int) -> None:
    """`count` rounds of a worker, a minute apart (bounded: a loop must not hang the test)."""
    for _ in range(count):
        run_once(services)
        clock.advance(minutes=1)


def _events(services, action: str):
    with services.uow() as uow:
        return uow.events.find(RecordFilter(action=action, limit=10_000))


BERLIN_10 = datetime(2026, 12, 3, 9, tzinfo=UTC)  # 10:00 in Berlin
BERLIN_14 = datetime(2026, 12, 3, 13, tzinfo=UTC)


# The organizer saves between calsync's read and its write --------------------------------


def test_a_move_saved_between_the_answers_read_and_its_put_is_applied_first(room):
    services, wire, organizer, calendar = room
    href = _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    sync(services)

    def organizer_moves(request):
        _move(organizer, calendar, href, "m1", "20261203T140000", "20261203T150000", 1)

    wire.hooks.append(Hook("PUT", organizer_moves))
    drain(services)
    sync(services)
    assert _by_uid(services)["m1"].start == BERLIN_14
    entry = _entry(organizer, calendar, "m1")
    assert b"20261203T140000" in entry
    assert b"PARTSTAT=ACCEPTED" in entry


def test_a_move_saved_right_after_a_put_without_etag_is_not_taken_for_an_echo(room):
    # RFC 4791 §5.3.4: a server that changed what was PUT answers without an ETag. A
    # version looked up afterwards could be that of an edit saved in between, which
    # calsync would record as its own write: the version stays unknown instead.
    services, wire, organizer, calendar = room
    href = _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    sync(services)
    moved = []

    def put_then_the_organizer_moves(request, response):
        if request.method != "PUT" or moved:
            return response
        moved.append(True)
        response = without_etag_on("PUT")(request, response)
        _move(organizer, calendar, href, "m1", "20261203T140000", "20261203T150000", 1)
        return response

    wire.rewrites.append(put_then_the_organizer_moves)
    drain(services)
    assert moved
    sync(services)
    assert _by_uid(services)["m1"].start == BERLIN_14, "the organizer's move was swallowed"


# Servers that answer otherwise -----------------------------------------------------------


def test_a_weak_etag_on_get_neither_loses_the_answer_nor_queues_answers_forever(room, clock):
    # A reverse proxy that compresses answers (nginx with gzip) turns a GET's ETag weak;
    # If-Match compares strongly (RFC 9110 §13.1.1), so a PUT based on it always fails.
    services, wire, organizer, calendar = room
    _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    wire.rewrites.append(weak_etag_on_get)
    sync(services)
    _rounds(services, clock, 8)
    answers = _events(services, "respond")
    assert len(answers) <= 2, f"{len(answers)} room answers queued for one meeting"
    assert b"PARTSTAT=ACCEPTED" in _entry(organizer, calendar, "m1")


# Answers that land out of order ----------------------------------------------------------


def _clash_after_first_answer_failed(room, clock):
    """m1 10:00 and m2 14:00; the room's first answer to m1 (ACCEPTED) meets a 503 and
    waits for its retry; the organizer moves m1 onto m2 and a read declines it."""
    services, wire, organizer, calendar = room
    href = _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    _meeting(organizer, calendar, "m2", "20261203T140000", "20261203T150000")
    sync(services)
    wire.hooks.append(Hook("PUT", unavailable))  # the first answer's PUT
    run_once(services, limit=1)
    _move(organizer, calendar, href, "m1", "20261203T143000", "20261203T153000", 1)
    sync(services)
    assert _by_uid(services)["m1"].status == ReservationStatus.declined
    return services, organizer, calendar


def test_an_answer_retried_after_a_newer_one_does_not_overwrite_it(room, clock):
    services, organizer, calendar = _clash_after_first_answer_failed(room, clock)
    drain(services)  # the DECLINED answer goes out; the retry is not due yet
    clock.advance(minutes=10)
    drain(services)  # the retry of the old ACCEPTED answer
    assert _by_uid(services)["m1"].status == ReservationStatus.declined
    assert b"PARTSTAT=DECLINED" in _entry(organizer, calendar, "m1"), (
        "the room accepted a slot calsync declined"
    )


def test_an_answer_taken_over_after_a_crash_does_not_overwrite_a_newer_one(
    room, clock, monkeypatch
):
    # The room's answer finds the organizer's move, applies it (which declines m1 and
    # queues a DECLINED answer), and the worker dies before the event is finished. The
    # next worker sends the DECLINED answer; the crashed event is taken over once its
    # lease runs out.
    services, _wire, organizer, calendar = room
    href = _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    _meeting(organizer, calendar, "m2", "20261203T140000", "20261203T150000")
    sync(services)
    _move(organizer, calendar, href, "m1", "20261203T143000", "20261203T153000", 1)
    finish = push._finish
    crashed = []

    def crash_once(run, provider_payload, response, *args, **kwargs):
        if response.startswith("superseded") and not crashed:
            crashed.append(run.event_id)
            raise Killed("worker killed")
        return finish(run, provider_payload, response, *args, **kwargs)

    monkeypatch.setattr(push, "_finish", crash_once)
    with pytest.raises(Killed):
        run_once(services, limit=1)
    drain(services)
    clock.advance(minutes=10)  # past the crashed event's lease
    drain(services)
    assert crashed
    assert _by_uid(services)["m1"].status == ReservationStatus.declined
    assert b"PARTSTAT=DECLINED" in _entry(organizer, calendar, "m1"), (
        "the room accepted a slot calsync declined"
    )


# The calendar's change wins, by default -------------------------------------------------


def _moved_in_both(room, calsync_hours, organizer_sequence, organizer_partstat):
    """calsync's booking is sent (SEQUENCE 0, the room ACCEPTED); the organizer moves it
    in the calendar to 15:00 Berlin; meanwhile it is moved in calsync once per hour in
    `calsync_hours`, each move raising SEQUENCE."""
    services, _wire, organizer, calendar = room
    booked = reserve(services, "Board")
    drain(services)
    [sent] = reservations(services)
    moved = vevent(booked.uid, "20261205T150000", "20261205T160000", "Board (moved)")
    moved = moved.replace("SEQUENCE:0", f"SEQUENCE:{organizer_sequence}")
    moved = moved.replace("PARTSTAT=NEEDS-ACTION", f"PARTSTAT={organizer_partstat}")
    organizer.update(calendar, sent.provider_id, ics(moved), None)
    for hour in calsync_hours:
        reservation_service.update(
            services,
            booked.id,
            start=datetime(2026, 12, 5, hour, tzinfo=UTC),
            end=datetime(2026, 12, 5, hour + 1, tzinfo=UTC),
        )
    return services, organizer, calendar, booked


def test_the_calendars_move_wins_over_two_pending_moves_made_in_calsync(room, clock):
    # The organizer raises SEQUENCE to 1 as RFC 5546 asks; calsync's two moves raised it
    # to 2. conflict_resolution = calendar (the default): the calendar's move wins.
    services, organizer, calendar, booked = _moved_in_both(room, (11, 12), 1, "ACCEPTED")
    _rounds(services, clock, 6)
    updates = _events(services, "update")
    assert all("conflict_resolution = calendar" in e.response for e in updates)
    assert b"20261205T150000" in _entry(organizer, calendar, booked.uid)
    for full in (False, True):
        sync(services, full=full)
        [reservation] = reservations(services)
        assert reservation.start == datetime(2026, 12, 5, 14, tzinfo=UTC), (
            f"calendar at 15:00 Berlin, reservation at {reservation.start:%H:%M} UTC "
            f"after sync(full={full}), though the event says the calendar's change won"
        )


def test_a_rename_without_a_new_sequence_wins_over_a_pending_move_made_in_calsync(room, clock):
    # RFC 5546 §2.1.4: a new SUMMARY is not a significant change, SEQUENCE may stay 0.
    services, _organizer, _calendar, _booked = _moved_in_both(room, (11,), 0, "ACCEPTED")
    _rounds(services, clock, 4)
    sync(services, full=True)
    [reservation] = reservations(services)
    assert (reservation.subject, reservation.start) == (
        "Board (moved)",
        datetime(2026, 12, 5, 14, tzinfo=UTC),
    ), "the event says the calendar's change won; the reservation kept calsync's"


def test_an_older_calendar_version_does_not_queue_room_answers_forever(room, clock):
    # As above, with the room's PARTSTAT back at NEEDS-ACTION in the organizer's copy.
    services, _organizer, _calendar, _booked = _moved_in_both(room, (11, 12), 1, "NEEDS-ACTION")
    _rounds(services, clock, 6)
    answers = _events(services, "respond")
    with services.uow() as uow:
        items = uow.calendar_items.find(RecordFilter(limit=10_000))
    assert len(answers) <= 2, (
        f"{len(answers)} room answers and {len(items)} calendar items after 6 worker rounds"
    )


# What sync --full repairs ----------------------------------------------------------------


def test_a_full_synchronization_repairs_a_series_whose_changes_calsync_took_for_its_own(room):
    # The organizer cancels the 2nd occurrence (EXDATE) and moves the 3rd; calsync holds
    # that version as if it had written it (as a PUT without ETag leads to).
    services, _wire, organizer, calendar = room
    rule = "RRULE:FREQ=DAILY;COUNT=3\r\n"
    href = organizer.create(
        calendar, "s1", ics(vevent("s1", "20261207T100000", "20261207T110000", extra=rule))
    ).provider_id
    sync(services)
    changed = ics(
        vevent(
            "s1",
            "20261207T100000",
            "20261207T110000",
            extra=rule + "EXDATE;TZID=Europe/Berlin:20261208T100000\r\n",
            sequence=1,
        ),
        vevent(
            "s1",
            "20261209T150000",
            "20261209T160000",
            extra="RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000\r\n",
            sequence=1,
        ),
    )
    written = organizer.update(calendar, href, changed, None)
    with services.uow() as uow:
        for row in uow.session.query(ReservationRow):
            row.provider_version = written.version
        uow.commit()
    sync(services, full=True)
    live = sorted(
        r.start for r in reservations(services) if r.status != ReservationStatus.cancelled
    )
    assert live == [datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 9, 14, tzinfo=UTC)]


def test_an_answer_to_a_meeting_deleted_meanwhile_is_superseded_and_cancels(room):
    services, wire, organizer, calendar = room
    href = _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    sync(services)

    def organizer_deletes(request):
        organizer.delete(calendar, href, None)

    wire.hooks.append(Hook("PUT", organizer_deletes))
    drain(services)
    [answer] = _events(services, "respond")
    assert answer.state == "processed", answer.error
    assert answer.response.startswith("superseded")
    assert _by_uid(services)["m1"].status == ReservationStatus.cancelled


# More orders of events ------------------------------------------------------------------


@pytest.fixture
def room_where_calsync_wins(make_services, room_calendar, radicale):
    services = make_services(room_settings(room_calendar, conflict_resolution="calsync"))
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    yield services, organizer, room_calendar
    organizer.close()


def test_with_calsync_winning_its_pending_move_wins_also_when_a_read_comes_first(
    room_where_calsync_wins,
):
    # The same conflict as when the push meets a 412, but a poll reads the organizer's
    # move before the worker sends calsync's: the rule must settle it the same way.
    services, organizer, calendar = room_where_calsync_wins
    booked = reserve(services, "Board")
    drain(services)
    [sent] = reservations(services)
    organizer.update(
        calendar,
        sent.provider_id,
        ics(vevent(booked.uid, "20261205T150000", "20261205T160000", "Board", sequence=5)),
        None,
    )
    reservation_service.update(
        services,
        booked.id,
        start=datetime(2026, 12, 5, 11, tzinfo=UTC),
        end=datetime(2026, 12, 5, 12, tzinfo=UTC),
    )
    sync(services)  # the poll comes first
    drain(services)
    sync(services)
    [reservation] = reservations(services)
    entry = _entry(organizer, calendar, booked.uid)
    assert reservation.start == datetime(2026, 12, 5, 11, tzinfo=UTC), (
        "conflict_resolution = calsync, yet calsync's move was dropped"
    )
    assert b"DTSTART;TZID=Europe/Berlin:20261205T120000" in entry


def test_an_occurrence_cancelled_in_calsync_stays_cancelled_when_a_read_comes_before_the_push(
    room,
):
    # An admin cancels the 3rd occurrence of someone's daily series (an EXDATE waits in
    # the outbox); the organizer renames the series; a poll reads that before the push.
    services, _wire, organizer, calendar = room
    _, third = third_cancelled_in_calsync_then_renamed(services, organizer, calendar)
    sync(services)
    drain(services)
    sync(services)
    entry = _entry(organizer, calendar, "s1")
    third_now = {r.id: r for r in reservations(services)}[third.id]
    in_calendar = b"EXDATE" not in entry
    held = third_now.status != ReservationStatus.cancelled
    assert in_calendar == held, (
        f"calendar {'keeps' if in_calendar else 'cancelled'} the 3rd occurrence, "
        f"its reservation is {third_now.status.value}"
    )


def test_a_create_that_reached_the_calendar_before_a_crash_is_not_an_error_forever(
    room, clock, monkeypatch
):
    # The worker dies after the PUT of a new booking and before it stored where it lives;
    # the event is taken over once its lease runs out.
    services, _wire, _organizer, _calendar = room
    reserve(services, "Board")
    finish = push._finish
    crashed = []

    def crash_once(services_, event_id, *args, **kwargs):
        if not crashed:
            crashed.append(event_id)
            raise Killed("worker killed")
        return finish(services_, event_id, *args, **kwargs)

    monkeypatch.setattr(push, "_finish", crash_once)
    with pytest.raises(Killed):
        run_once(services, limit=1)
    clock.advance(minutes=10)
    drain(services)
    [create] = _events(services, "create")
    if create.state == "error":  # what an admin does next
        reprocess(services, create.id)
        drain(services)
        [create] = _events(services, "create")
    assert create.state == "processed", create.error
    [reservation] = reservations(services)
    assert reservation.provider_id is not None


def test_cancelling_the_one_occurrence_a_room_was_invited_to_is_not_an_error_forever(room):
    # Invited to one occurrence only, the room's calendar holds that occurrence's
    # override without its series master (as Exchange and Google send it).
    services, _wire, organizer, calendar = room
    only = vevent(
        "s1",
        "20261209T150000",
        "20261209T160000",
        extra="RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000\r\n",
    )
    organizer.create(calendar, "s1", ics(only))
    sync(services)
    drain(services)
    [occurrence] = reservations(services)
    assert occurrence.recurrence_id is not None
    reservation_service.cancel(services, occurrence.id)
    drain(services)
    [delete] = _events(services, "delete")
    assert delete.state == "processed", delete.error


def test_on_a_server_without_etags_a_room_answer_is_refused_not_written_blind(room):
    from tests.sync.man_in_the_middle import no_etags_at_all

    services, wire, organizer, calendar = room
    wire.rewrites.append(no_etags_at_all)
    _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    sync(services)
    drain(services)
    assert "PUT" not in wire.methods, "the room's answer was written without If-Match"
    [answer] = _events(services, "respond")
    assert answer.state == "error"
    assert "no version (ETag)" in answer.error


@pytest.mark.parametrize("moment", ["before the answer's PUT", "after the answer's PUT"])
def test_a_read_racing_a_room_answer_loses_nothing(room, clock, moment):
    # Another worker's poll runs while the answer is on the wire, right after the
    # organizer moved the meeting.
    services, wire, organizer, calendar = room
    href = _meeting(organizer, calendar, "m1", "20261203T100000", "20261203T110000")
    sync(services)
    raced = []

    def organizer_moves_and_a_poll_runs(request):
        if moment.startswith("after"):
            response = wire.inner.handle_request(request)
            response.read()
        _move(organizer, calendar, href, "m1", "20261203T140000", "20261203T150000", 1)
        raced.append(sync(services))
        return response if moment.startswith("after") else None

    wire.hooks.append(Hook("PUT", organizer_moves_and_a_poll_runs))
    _rounds(services, clock, 5)
    sync(services)
    assert raced
    assert _by_uid(services)["m1"].start == BERLIN_14
    entry = _entry(organizer, calendar, "m1")
    assert b"20261203T140000" in entry
    assert b"PARTSTAT=ACCEPTED" in entry
    assert len(_events(services, "respond")) <= 3


def test_with_calsync_winning_a_second_change_in_the_calendar_meanwhile_is_settled_too(
    make_services, room_calendar, radicale
):
    # The organizer saves twice: once before calsync's PUT (412), once more between
    # calsync's re-read and its second PUT.
    services = make_services(room_settings(room_calendar, conflict_resolution="calsync"))
    wire = wired(services, radicale.url)
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    calendar = room_calendar
    booked = reserve(services, "Board")
    drain(services)
    [sent] = reservations(services)

    def organizer_moves(hour: int, sequence: int):
        def act(request):
            moved = vevent(booked.uid, f"20261205T{hour}0000", f"20261205T{hour + 1}0000")
            moved = moved.replace("SEQUENCE:0", f"SEQUENCE:{sequence}")
            organizer.update(calendar, sent.provider_id, ics(moved), None)

        return act

    organizer_moves(15, 5)(None)
    wire.hooks.append(Hook("PUT", organizer_moves(16, 6), nth=2))
    reservation_service.update(
        services,
        booked.id,
        start=datetime(2026, 12, 5, 11, tzinfo=UTC),
        end=datetime(2026, 12, 5, 12, tzinfo=UTC),
    )
    drain(services)
    organizer.close()
    [update] = _events(services, "update")
    assert update.state == "processed", update.error


def _refuses_if_match(request):
    """A server that answers 412 to a conditional write on the version it reports itself."""
    from tests.sync.man_in_the_middle import Response

    return Response(412, request=request)


@pytest.mark.parametrize("change", ["move", "cancel"])
def test_a_booking_on_a_server_refusing_its_own_version_is_an_error_not_superseded(
    room, clock, change
):
    # No organizer changed anything: the 412 is the server's fault. Taking it for a change
    # in the calendar would supersede calsync's change under the default rule, unsaid.
    services, wire, _organizer, _calendar = room
    booked = reserve(services, "Board")
    drain(services)
    if change == "move":
        reservation_service.update(
            services,
            booked.id,
            start=datetime(2026, 12, 5, 11, tzinfo=UTC),
            end=datetime(2026, 12, 5, 12, tzinfo=UTC),
        )
    else:
        reservation_service.cancel(services, booked.id)
    method = "PUT" if change == "move" else "DELETE"
    wire.hooks.append(Hook(method, _refuses_if_match))
    run_once(services)
    [sent] = _events(services, "update" if change == "move" else "delete")
    assert sent.state != "processed", f"superseded without a word: {sent.response}"
    assert "refused If-Match" in sent.error
    [reservation] = reservations(services)
    if change == "move":
        assert reservation.start == datetime(2026, 12, 5, 11, tzinfo=UTC)
    else:
        assert reservation.status == ReservationStatus.cancelled
