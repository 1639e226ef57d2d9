"""decide() with booking policies and approval rules: what the organizer's calendar shows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from calsync.domain.approvals import ApprovalRule, ApprovalRules, Person, Role
from calsync.domain.decide import Cancel, Change, Update, decide
from calsync.domain.entries import Attendee, CalendarEntry, CalendarObject, Occurrence, Window
from calsync.domain.items import BookingPolicy, CalendarBinding, WorkplaceItem
from calsync.domain.occupancy import Occupancy
from calsync.domain.reservations import Origin, Reservation, ReservationStatus

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(days=30), NOW + timedelta(days=365))
BINDING = CalendarBinding("dav", "/rooms/a/", room_address="room-a@example.com")
BOARDROOM_RULE = ApprovalRule(
    "boardroom", Person("facilities@example.com"), items=frozenset({"Board"})
)


def room(name: str = "Board", **policy) -> WorkplaceItem:
    return WorkplaceItem(name=name, policy=BookingPolicy(**policy), binding=BINDING)


def ids():
    counter = itertools.count(1)
    return lambda: f"r{next(counter)}"


def at(hour: int, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def meeting(uid, *spans, organizer="alice@example.com", partstat="NEEDS-ACTION", overrides=()):
    recurring = len(spans) > 1
    occurrences = tuple(
        Occurrence(uid, s if recurring else None, s, e, False, "Meeting", organizer, 0)
        for s, e in spans
    )
    room_attendee = (Attendee("room-a@example.com", partstat=partstat, cutype="ROOM"),)
    master = CalendarEntry(
        uid, None, 0, None, "Meeting", organizer, room_attendee,
        spans[0][0], spans[0][1], False, "CONFIRMED", recurring,
    )  # fmt: skip
    extra = tuple(
        CalendarEntry(
            uid,
            rid,
            0,
            None,
            "Meeting",
            organizer,
            (Attendee("room-a@example.com", partstat=shown, cutype="ROOM"),),
            rid,
            rid + timedelta(hours=1),
            False,
            "CONFIRMED",
            False,
        )
        for rid, shown in overrides
    )
    return Change(CalendarObject(uid, (master, *extra), occurrences), f"/{uid}.ics", "v1", WINDOW)


def weekly(count: int, hour: int = 9) -> list[tuple[datetime, datetime]]:
    first = at(hour, day=7)
    return [(first + timedelta(weeks=n), first + timedelta(weeks=n, hours=1)) for n in range(count)]


def test_a_booking_an_approval_rule_matches_waits_and_the_room_answers_tentative():
    plan = decide(
        meeting("m", (at(9), at(10))),
        [],
        room(),
        Occupancy(),
        NOW,
        ids(),
        ApprovalRules((BOARDROOM_RULE,)),
    )
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.pending_approval
    assert "rule 'boardroom' matched" in create.reservation.reason
    assert plan.room_partstat == "TENTATIVE"
    [approval] = plan.approvals
    assert approval.reservation == create.reservation.id
    assert approval.performer == Person("facilities@example.com")
    assert approval.expires_at == NOW + timedelta(hours=48)


def test_a_booking_waiting_for_approval_holds_the_room_against_the_next():
    occupancy, rules, new_id = Occupancy(), ApprovalRules((BOARDROOM_RULE,)), ids()
    decide(meeting("first", (at(9), at(10))), [], room(), occupancy, NOW, new_id, rules)
    plan = decide(meeting("second", (at(9), at(10))), [], room(), occupancy, NOW, new_id, rules)
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.declined
    assert create.reservation.reason.startswith("conflict: overlaps reservation")
    assert plan.approvals == ()
    assert plan.room_partstat == "DECLINED"


def test_a_rule_for_another_room_asks_no_approval():
    plan = decide(
        meeting("m", (at(9), at(10))),
        [],
        room("Small"),
        Occupancy(),
        NOW,
        ids(),
        ApprovalRules((BOARDROOM_RULE,)),
    )
    assert plan.actions[0].reservation.status == ReservationStatus.confirmed
    assert plan.room_partstat == "ACCEPTED"
    assert plan.approvals == ()


def test_out_of_policy_someone_allowed_to_request_waits_for_the_out_of_policy_performer():
    item = room(max_duration=timedelta(hours=2), request_out_of_policy=("example.com",))
    plan = decide(meeting("long", (at(9), at(13))), [], item, Occupancy(), NOW, ids())
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.pending_approval
    assert "max_duration: lasts 4 hours, the limit is 2 hours" in create.reservation.reason
    [approval] = plan.approvals
    assert approval.rule == "out_of_policy"
    assert approval.performer == Role("approver")


def test_out_of_policy_someone_else_is_declined_with_the_rule_and_why():
    item = room(max_duration=timedelta(hours=2), request_out_of_policy=("partner.org",))
    plan = decide(meeting("long", (at(9), at(13))), [], item, Occupancy(), NOW, ids())
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.declined
    assert create.reservation.reason == "max_duration: lasts 4 hours, the limit is 2 hours"
    assert plan.room_partstat == "DECLINED"


def test_working_hours_only_declines_an_evening_meeting():
    item = room(working_hours_only=True)
    plan = decide(meeting("late", (at(19), at(20))), [], item, Occupancy(), NOW, ids())
    [create] = plan.actions
    assert create.reservation.status == ReservationStatus.declined
    assert create.reservation.reason.startswith("working_hours: Thu 2026-12-03 19:00")


def _busy_on(occupancy: Occupancy, spans, which) -> None:
    for n in which:
        occupancy.hold(spans[n][0], spans[n][1], f"other{n}")


def test_a_series_with_few_conflicts_is_accepted_and_only_those_occurrences_declined():
    spans, occupancy = weekly(10), Occupancy()
    _busy_on(occupancy, spans, (2, 5))
    item = room(series_max_conflict_share=0.25)
    plan = decide(meeting("s", *spans), [], item, occupancy, NOW, ids())
    statuses = [a.reservation.status for a in plan.actions]
    assert statuses.count(ReservationStatus.confirmed) == 8
    assert [n for n, s in enumerate(statuses) if s == ReservationStatus.declined] == [2, 5]
    assert plan.room_partstat == "ACCEPTED"
    assert plan.room_declines == (spans[2][0], spans[5][0])


def test_a_series_with_too_many_conflicts_is_declined_as_a_whole_and_frees_every_span():
    spans, occupancy = weekly(10), Occupancy()
    _busy_on(occupancy, spans, (2, 5))
    item = room(series_max_conflict_share=0.10)
    plan = decide(meeting("s", *spans), [], item, occupancy, NOW, ids())
    assert {a.reservation.status for a in plan.actions} == {ReservationStatus.declined}
    assert plan.actions[0].reservation.reason == (
        "series_conflicts: 2 of 10 occurrences conflict (20%), more than the 10% allowed"
    )
    assert plan.room_partstat == "DECLINED"
    assert plan.room_declines == ()
    assert occupancy.clash(spans[0][0], spans[0][1], None) is None


def test_a_series_by_the_count_of_its_conflicts():
    spans, occupancy = weekly(10), Occupancy()
    _busy_on(occupancy, spans, (1, 2, 3))
    plan = decide(meeting("s", *spans), [], room(series_max_conflicts=2), occupancy, NOW, ids())
    assert {a.reservation.status for a in plan.actions} == {ReservationStatus.declined}
    assert "more than the 2 allowed" in plan.actions[0].reservation.reason


def test_declines_already_shown_in_the_calendar_are_not_sent_again():
    spans, occupancy = weekly(4), Occupancy()
    _busy_on(occupancy, spans, (1,))
    change = meeting("s", *spans, partstat="ACCEPTED", overrides=((spans[1][0], "DECLINED"),))
    plan = decide(change, [], room(), occupancy, NOW, ids())
    assert plan.room_partstat is None


def test_a_series_needing_approval_waits_occurrence_by_occurrence():
    spans = weekly(3)
    plan = decide(
        meeting("s", *spans), [], room(), Occupancy(), NOW, ids(), ApprovalRules((BOARDROOM_RULE,))
    )
    assert {a.reservation.status for a in plan.actions} == {ReservationStatus.pending_approval}
    assert len(plan.approvals) == 3
    assert plan.room_partstat == "TENTATIVE"


def _pending(start: datetime, end: datetime) -> Reservation:
    return Reservation(
        "r1", "Board", start, end, ReservationStatus.pending_approval, Origin.calendar, "m",
        "Meeting", "alice@example.com", provider_id="/m.ics", provider_version="v0",
        reason="rule 'boardroom' matched: item Board",
    )  # fmt: skip


def test_a_pending_booking_moved_in_the_calendar_is_judged_again():
    current = _pending(at(9), at(10))
    rules = ApprovalRules((BOARDROOM_RULE,))
    plan = decide(meeting("m", (at(14), at(15))), [current], room(), Occupancy(), NOW, ids(), rules)
    [update] = plan.actions
    assert isinstance(update, Update)
    assert update.reservation.status == ReservationStatus.pending_approval
    [approval] = plan.approvals
    assert approval.rule == "boardroom"
    assert approval.reservation == "r1"


def test_a_pending_booking_moved_outside_every_rule_is_confirmed():
    current = _pending(at(9), at(10))
    rules = ApprovalRules((ApprovalRule("mornings", Role("approver"), up_to=timedelta(hours=1)),))
    plan = decide(meeting("m", (at(14), at(17))), [current], room(), Occupancy(), NOW, ids(), rules)
    [update] = plan.actions
    assert update.reservation.status == ReservationStatus.confirmed
    assert plan.approvals == ()
    assert plan.room_partstat == "ACCEPTED"


def test_a_pending_booking_renamed_only_keeps_waiting_without_a_new_request():
    current = _pending(at(9), at(10))
    plan = decide(
        meeting("m", (at(9), at(10))), [current], room(), Occupancy(), NOW, ids(),
        ApprovalRules((BOARDROOM_RULE,)),
    )  # fmt: skip
    [update] = plan.actions
    assert update.reservation.status == ReservationStatus.pending_approval
    assert plan.approvals == ()


def test_an_occurrence_waiting_for_approval_deleted_from_the_series_is_cancelled():
    spans = weekly(3)
    waiting = [
        Reservation(
            f"r{n}",
            "Board",
            s,
            e,
            ReservationStatus.pending_approval,
            Origin.calendar,
            "s",
            "Meeting",
            "alice@example.com",
            recurrence_id=s,
            provider_id="/s.ics",
            provider_version="v1",
        )
        for n, (s, e) in enumerate(spans)
    ]
    plan = decide(meeting("s", *spans[:2]), waiting, room(), Occupancy(), NOW, ids())
    [cancel] = plan.actions
    assert isinstance(cancel, Cancel)
    assert cancel.reservation.id == "r2"
    assert plan.approvals == ()


def test_an_occurrence_already_over_asks_no_approval_and_one_soon_waits_until_it_ends():
    rules = ApprovalRules((BOARDROOM_RULE,))
    earlier = NOW - timedelta(days=2)
    plan = decide(
        meeting("past", (earlier, earlier + timedelta(hours=1))), [], room(), Occupancy(), NOW,
        ids(), rules,
    )  # fmt: skip
    assert plan.actions[0].reservation.status == ReservationStatus.confirmed
    assert plan.approvals == ()
    soon = meeting("soon", (NOW + timedelta(hours=2), NOW + timedelta(hours=3)))
    [approval] = decide(soon, [], room(), Occupancy(), NOW, ids(), rules).approvals
    assert approval.expires_at == NOW + timedelta(hours=3)
