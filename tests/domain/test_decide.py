"""decide(): what one calendar item does to the reservations — pure and fast."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.domain.decide import Cancel, Change, Create, Update, decide, decide_removal
from calsync.domain.entries import Attendee, CalendarEntry, CalendarObject, Occurrence, Window
from calsync.domain.items import BookingPolicy, CalendarBinding, WorkplaceItem
from calsync.domain.occupancy import Occupancy
from calsync.domain.reservations import ReservationStatus

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(days=30), NOW + timedelta(days=365))
ROOM = WorkplaceItem(
    name="Room A",
    policy=BookingPolicy(max_duration=timedelta(hours=8)),
    binding=CalendarBinding("dav", "/rooms/a/", room_address="room-a@example.com"),
)


def ids():
    counter = itertools.count(1)
    return lambda: f"r{next(counter)}"


def obj(uid: str, *spans: tuple[datetime, datetime], sequence: int = 0, partstat="NEEDS-ACTION"):
    recurring = len(spans) > 1
    occurrences = tuple(
        Occurrence(uid, start if recurring else None, start, end, False, "Meeting", "a@x", sequence)
        for start, end in spans
    )
    entry = CalendarEntry(
        uid, None, sequence, None, "Meeting", "a@x",
        (Attendee("room-a@example.com", partstat=partstat, cutype="ROOM"),),
        spans[0][0], spans[0][1], False, "CONFIRMED", recurring,
    )  # fmt: skip
    return CalendarObject(uid, (entry,), occurrences)


def at(hour: int, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def change(o, version="v1"):
    return Change(o, f"/rooms/a/{o.uid}.ics", version, WINDOW)


def test_a_new_meeting_is_confirmed_and_the_room_accepts():
    plan = decide(change(obj("m", (at(9), at(10)))), [], ROOM, Occupancy(), NOW, ids())
    [create] = plan.actions
    assert isinstance(create, Create)
    assert create.reservation.status == ReservationStatus.confirmed
    assert plan.room_partstat == "ACCEPTED"


def test_a_clash_is_declined_with_the_reason_and_the_room_declines():
    occupancy = Occupancy([(at(9), at(10), "other")])
    plan = decide(
        change(
            obj(
                "m",
                (
                    at(
                        9,
                    ),
                    at(11),
                ),
            )
        ),
        [],
        ROOM,
        occupancy,
        NOW,
        ids(),
    )
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.declined
    assert "conflict" in create.reservation.reason
    assert plan.room_partstat == "DECLINED"


def test_too_long_and_too_far_ahead_are_declined():
    long = decide(change(obj("m", (at(8), at(18)))), [], ROOM, Occupancy(), NOW, ids())
    far = decide(
        change(obj("f", (NOW + timedelta(days=400), NOW + timedelta(days=400, hours=1)))),
        [], ROOM, Occupancy(), NOW, ids(),
    )  # fmt: skip
    assert "max_duration" in long.actions[0].reservation.reason
    assert "booking_window" in far.actions[0].reservation.reason


def test_applying_the_same_object_twice_plans_nothing_the_second_time():
    occupancy = Occupancy()
    first = decide(change(obj("m", (at(9), at(10)))), [], ROOM, occupancy, NOW, ids())
    existing = [a.reservation for a in first.actions]
    again = decide(
        change(obj("m", (at(9), at(10)), partstat="ACCEPTED")),
        existing,
        ROOM,
        occupancy,
        NOW,
        ids(),
    )
    assert again.changes_nothing


def test_an_older_sequence_never_overwrites_a_newer_one():
    occupancy = Occupancy()
    newer = decide(change(obj("m", (at(14), at(15)), sequence=2)), [], ROOM, occupancy, NOW, ids())
    existing = [a.reservation for a in newer.actions]
    stale = decide(
        change(obj("m", (at(9), at(10)), sequence=1), "v0"), existing, ROOM, occupancy, NOW, ids()
    )
    assert stale.actions == ()


def test_a_moved_meeting_is_rechecked_against_the_policy():
    occupancy = Occupancy([(at(14), at(15), "other")])
    first = decide(change(obj("m", (at(9), at(10)))), [], ROOM, occupancy, NOW, ids())
    existing = [a.reservation for a in first.actions]
    moved = decide(
        change(obj("m", (at(14), at(15)), sequence=1), "v2"), existing, ROOM, occupancy, NOW, ids()
    )
    [update] = moved.actions
    assert isinstance(update, Update)
    assert update.reservation.id == existing[0].id
    assert update.reservation.status == ReservationStatus.declined


def test_an_occurrence_that_disappears_from_a_series_is_cancelled():
    occupancy = Occupancy()
    series = obj(
        "s", (at(9), at(10)), (at(9, day=10), at(10, day=10)), (at(9, day=17), at(10, day=17))
    )
    existing = [
        a.reservation for a in decide(change(series), [], ROOM, occupancy, NOW, ids()).actions
    ]
    shorter = replace(series, occurrences=series.occurrences[:2])
    plan = decide(change(shorter, "v2"), existing, ROOM, occupancy, NOW, ids())
    [cancel] = [a for a in plan.actions if isinstance(a, Cancel)]
    assert {a.reservation.provider_version for a in plan.actions if isinstance(a, Update)} == {"v2"}
    assert cancel.reservation.start == at(9, day=17)
    assert occupancy.clash(at(9, day=17), at(10, day=17)) is None  # the room is free again


def test_a_deleted_object_cancels_every_live_reservation_it_held():
    occupancy = Occupancy()
    series = obj("s", (at(9), at(10)), (at(9, day=10), at(10, day=10)))
    existing = [
        a.reservation for a in decide(change(series), [], ROOM, occupancy, NOW, ids()).actions
    ]
    plan = decide_removal(existing, occupancy)
    assert [a.reservation.status for a in plan.actions] == [ReservationStatus.cancelled] * 2
    assert len(occupancy) == 0


spans = st.lists(st.tuples(st.integers(0, 24 * 60), st.integers(15, 240)), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(spans)
def test_whatever_arrives_the_confirmed_reservations_never_overlap(raw):
    occupancy, held, new_id = Occupancy(), [], ids()
    for n, (minute, length) in enumerate(raw):
        start = NOW + timedelta(days=1, minutes=minute)
        plan = decide(
            change(obj(f"m{n}", (start, start + timedelta(minutes=length)))),
            [],
            ROOM,
            occupancy,
            NOW,
            new_id,
        )
        held += [a.reservation for a in plan.actions if a.reservation.holds_item]
    held.sort(key=lambda r: r.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(held))


# Where the service's room answers on its own ------------------------------------------


def _ours(status=ReservationStatus.awaiting_confirmation, version="v1"):
    from calsync.domain.reservations import Origin, Reservation

    return Reservation(
        "r1", "Room A", at(9), at(10), status, Origin.workplace, "m", "Meeting", "a@x",
        provider_id="/rooms/a/m.ics", provider_version=version,
    )  # fmt: skip


def _room_decides(o, version="v2"):
    return replace(change(o, version), room_decides=True)


def test_calsyncs_booking_the_room_accepted_is_confirmed_and_calsync_does_not_answer():
    plan = decide(
        _room_decides(obj("m", (at(9), at(10)), partstat="ACCEPTED")),
        [_ours()], ROOM, Occupancy([(at(9), at(10), "r1")]), NOW, ids(),
    )  # fmt: skip
    [update] = plan.actions
    assert update.reservation.status == ReservationStatus.confirmed
    assert plan.room_partstat is None


def test_calsyncs_booking_the_room_declined_is_conflicted_and_frees_the_span():
    occupancy = Occupancy([(at(9), at(10), "r1")])
    plan = decide(
        _room_decides(obj("m", (at(9), at(10)), partstat="DECLINED")),
        [_ours()], ROOM, occupancy, NOW, ids(),
    )  # fmt: skip
    [update] = plan.actions
    assert (update.reservation.status, update.reservation.reason) == (
        ReservationStatus.conflicted,
        "the room declined it in the calendar",
    )
    assert plan.room_partstat is None
    assert occupancy.clash(at(9), at(10), "someone else") is None


def test_calsyncs_booking_not_answered_yet_keeps_waiting():
    plan = decide(
        _room_decides(obj("m", (at(9), at(10)), partstat="NEEDS-ACTION")),
        [_ours(version="v1")], ROOM, Occupancy([(at(9), at(10), "r1")]), NOW, ids(),
    )  # fmt: skip
    assert all(
        a.reservation.status == ReservationStatus.awaiting_confirmation for a in plan.actions
    )
    assert plan.room_partstat is None


def test_someones_meeting_the_room_declined_itself_is_declined_without_an_answer():
    plan = decide(
        _room_decides(obj("x", (at(14), at(15)), partstat="DECLINED")),
        [], ROOM, Occupancy(), NOW, ids(),
    )  # fmt: skip
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.declined
    assert plan.room_partstat is None


def test_where_the_room_does_not_decide_its_answer_in_the_calendar_changes_nothing():
    plan = decide(
        change(obj("m", (at(9), at(10)), partstat="DECLINED"), "v2"),
        [_ours(ReservationStatus.confirmed)], ROOM, Occupancy([(at(9), at(10), "r1")]), NOW, ids(),
    )  # fmt: skip
    assert all(a.reservation.status == ReservationStatus.confirmed for a in plan.actions)
