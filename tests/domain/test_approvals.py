"""Approval rules: which booking needs whose approval, and an approval decided once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from calsync.domain.approvals import (
    Approval,
    ApprovalRule,
    ApprovalRules,
    ApprovalState,
    Group,
    Identity,
    Person,
    Role,
    TimeOfDay,
    approval_for,
    may_decide,
)
from calsync.domain.bookings import Booking
from calsync.domain.items import ItemKind, Location, WorkplaceItem
from calsync.domain.reservations import ReservationStatus
from calsync.errors import ApprovalDecided, NotAPerformer

BOARDROOM = WorkplaceItem(
    "Boardroom",
    kind=ItemKind.room,
    time_zone="Europe/Berlin",
    capacity=20,
    location=Location("HQ", "North", "4"),
)
DESK = WorkplaceItem("Desk 7", kind=ItemKind.desk, location=Location("HQ", "South", "1"))
FACILITIES = Group("facilities")
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


def at(hour: int, day: int = 3, minute: int = 0) -> datetime:
    """A UTC instant in December 2026 (Berlin is UTC+1)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def booking(item=BOARDROOM, start=None, hours=1.0, organizer="ann@example.com", recurring=False):
    start = start or at(9)
    return Booking.of(item, start, start + timedelta(hours=hours), organizer, recurring)


def rule(**criteria) -> ApprovalRule:
    return ApprovalRule(name="the rule", performer=FACILITIES, **criteria)


@pytest.mark.parametrize(
    ("criteria", "matching", "missing"),
    [
        ({"items": frozenset({"Boardroom"})}, booking(), booking(DESK)),
        ({"kinds": frozenset({ItemKind.desk})}, booking(DESK), booking()),
        ({"location": Location("HQ")}, booking(DESK), booking(WorkplaceItem("Elsewhere"))),
        ({"location": Location("HQ", "North")}, booking(), booking(DESK)),
        ({"location": Location(floor="4")}, booking(), booking(DESK)),
        (
            {"organizers": ("partner.org", "ceo@example.com")},
            booking(organizer="Bob@Partner.org"),
            booking(organizer="ann@example.com"),
        ),
        (
            {"organizers": ("ceo@example.com",)},
            booking(organizer="ceo@example.com"),
            booking(organizer="cfo@example.com"),
        ),
        ({"longer_than": timedelta(hours=4)}, booking(hours=4.5), booking(hours=4)),
        ({"up_to": timedelta(hours=4)}, booking(hours=4), booking(hours=4.5)),
        ({"recurring": True}, booking(recurring=True), booking(recurring=False)),
        ({"recurring": False}, booking(recurring=False), booking(recurring=True)),
        ({"min_capacity": 20}, booking(), booking(DESK)),
        ({"max_capacity": 4}, booking(DESK), booking()),
    ],
)
def test_a_rule_matches_bookings_meeting_its_criterion_and_no_other(criteria, matching, missing):
    assert rule(**criteria).matches(matching)
    assert not rule(**criteria).matches(missing)


def test_a_rule_matches_only_bookings_meeting_every_criterion():
    both = rule(kinds=frozenset({ItemKind.room}), longer_than=timedelta(hours=2))
    assert both.matches(booking(hours=3))
    assert not both.matches(booking(hours=1))
    assert not both.matches(booking(DESK, hours=3))


EVENING = TimeOfDay(time(18), time(8))  # over midnight, on the Boardroom's Berlin clock


@pytest.mark.parametrize(
    ("start", "hours", "touches"),
    [
        (at(18), 1, True),  # 19:00 Berlin
        (at(6), 1, True),  # 07:00 Berlin: the night before's span runs until 08:00
        (at(7), 9, False),  # 08:00-17:00 Berlin
        (at(16), 2, True),  # 17:00-19:00 Berlin: reaches into the evening
        (at(7), 10, False),  # 08:00-18:00 Berlin: ends as the evening begins
        (at(9), 30, True),  # over a day long: touches every time of day
    ],
)
def test_a_time_of_day_matches_a_booking_touching_it_on_the_items_clock(start, hours, touches):
    assert rule(time_of_day=EVENING).matches(booking(start=start, hours=hours)) is touches


def test_a_daytime_span_matches_a_booking_in_it_and_not_one_outside_it():
    lunch = rule(time_of_day=TimeOfDay(time(12), time(14)))
    assert lunch.matches(booking(start=at(11, minute=30), hours=1))  # 12:30 Berlin
    assert not lunch.matches(booking(start=at(13), hours=1))  # 14:00 Berlin


RULES = ApprovalRules(
    rules=(
        ApprovalRule("partners", Person("host@example.com"), organizers=("partner.org",)),
        ApprovalRule("long boardroom", FACILITIES, items=frozenset({"Boardroom"}),
                     longer_than=timedelta(hours=4), expire_after=timedelta(hours=8)),
        ApprovalRule("big rooms", Role("admin"), min_capacity=10),
    ),
    out_of_policy=Role("approver"),
    expire_after=timedelta(hours=48),
)  # fmt: skip


def test_the_first_matching_rule_wins_and_names_its_performer():
    required = approval_for(booking(hours=5, organizer="bob@partner.org"), RULES)
    assert required is not None
    assert (required.rule, required.performer) == ("partners", Person("host@example.com"))
    later = approval_for(booking(hours=5), RULES)
    assert later is not None
    assert (later.rule, later.performer) == ("long boardroom", FACILITIES)


def test_the_requirement_says_which_rule_matched_and_on_what():
    required = approval_for(booking(hours=5), RULES)
    assert required is not None
    assert required.reason == ("rule 'long boardroom' matched: item Boardroom, longer than 4 hours")


def test_a_booking_matching_no_rule_needs_no_approval():
    assert approval_for(booking(DESK), RULES) is None
    assert approval_for(booking(), []) is None


def test_a_booking_out_of_policy_that_no_rule_matches_goes_to_the_out_of_policy_performer():
    required = approval_for(booking(DESK), RULES, out_of_policy="max_duration: lasts 9 hours")
    assert required is not None
    assert required.rule == "out_of_policy"
    assert required.performer == Role("approver")
    assert required.reason == "requested out of policy: max_duration: lasts 9 hours"


def test_a_booking_out_of_policy_matching_a_rule_goes_to_that_rules_performer():
    required = approval_for(booking(), RULES, out_of_policy="working_hours: outside")
    assert required is not None
    assert required.rule == "big rooms"
    assert required.reason.endswith("(out of policy: working_hours: outside)")


def test_a_request_expires_after_its_rules_time_or_else_the_rules_default():
    long = approval_for(booking(hours=5), RULES)
    big = approval_for(booking(), RULES)
    assert long is not None
    assert big is not None
    assert long.request("r1", NOW).expires_at == NOW + timedelta(hours=8)
    assert big.request("r2", NOW).expires_at == NOW + timedelta(hours=48)


def test_a_rule_without_criteria_matches_every_booking():
    everything = ApprovalRule("all", FACILITIES)
    assert everything.matches_every_booking
    assert everything.matches(booking(DESK))
    assert not rule(recurring=False).matches_every_booking


# --- deciding -----------------------------------------------------------------------------

GROUPS = {"facilities": frozenset({"anna@example.com", "ben@example.com"})}
ANNA = Identity("Anna@example.com")
BEN = Identity("ben@example.com")
STRANGER = Identity("eve@example.com", frozenset({"viewer"}))


def pending(performer=FACILITIES) -> Approval:
    return Approval("r1", "the rule", performer, NOW, NOW + timedelta(hours=48))


@pytest.mark.parametrize(
    ("performer", "who", "may"),
    [
        (Person("boss@example.com"), Identity("Boss@Example.com"), True),
        (Person("boss@example.com"), ANNA, False),
        (FACILITIES, ANNA, True),  # any member
        (FACILITIES, BEN, True),
        (FACILITIES, STRANGER, False),
        (Group("unknown"), ANNA, False),
        (Role("approver"), Identity("x@example.com", frozenset({"approver"})), True),
        (Role("approver"), Identity("x@example.com", frozenset({"viewer"})), False),
        (Person("boss@example.com"), Identity(""), False),
        (Person("boss@example.com"), Identity("root@example.com", frozenset({"admin"})), True),
        (FACILITIES, Identity("root@example.com", frozenset({"admin"})), True),
    ],
)
def test_only_the_performer_may_decide(performer, who, may):
    assert may_decide(who, pending(performer), GROUPS) is may


def test_an_approval_by_a_member_confirms_the_reservation_and_records_who_when_why():
    decided = pending().approve(ANNA, GROUPS, NOW + timedelta(hours=1), "fine")
    assert decided.state == ApprovalState.approved
    assert decided.reservation_status == ReservationStatus.confirmed
    assert (decided.decided_by, decided.decided_at, decided.reason) == (
        "anna@example.com",
        NOW + timedelta(hours=1),
        "fine",
    )


def test_a_rejection_declines_the_reservation_with_the_reason():
    decided = pending().reject(BEN, GROUPS, NOW, "the board meets then")
    assert decided.reservation_status == ReservationStatus.declined
    assert decided.reason == "the board meets then"
    assert pending().reject(BEN, GROUPS, NOW).reason == "rejected by ben@example.com"


def test_a_pending_approval_keeps_the_reservation_pending_approval():
    assert pending().reservation_status == ReservationStatus.pending_approval


def test_one_who_is_not_the_performer_cannot_decide_and_is_told_who_can():
    with pytest.raises(NotAPerformer, match="group facilities decides it"):
        pending().approve(STRANGER, GROUPS, NOW)


def test_a_decision_is_applied_once_a_second_one_is_refused():
    approved = pending().approve(ANNA, GROUPS, NOW)
    with pytest.raises(ApprovalDecided, match=r"already approved by anna@example\.com"):
        approved.reject(BEN, GROUPS, NOW, "too late")
    with pytest.raises(ApprovalDecided):
        approved.approve(BEN, GROUPS, NOW)
    with pytest.raises(ApprovalDecided):
        approved.expire(NOW + timedelta(days=3))


def test_an_undecided_request_expires_when_its_time_is_up_and_the_reservation_is_declined():
    approval = pending()
    assert not approval.due(NOW + timedelta(hours=47))
    assert approval.due(NOW + timedelta(hours=48))
    expired = approval.expire(NOW + timedelta(hours=48))
    assert expired.state == ApprovalState.expired
    assert expired.reservation_status == ReservationStatus.declined
    assert expired.reason == "no decision within 2 days"


def test_a_request_cannot_expire_early_nor_be_decided_after_its_time():
    with pytest.raises(ApprovalDecided, match="cannot expire yet"):
        pending().expire(NOW + timedelta(hours=1))
    with pytest.raises(ApprovalDecided, match="expired at"):
        pending().approve(ANNA, GROUPS, NOW + timedelta(hours=49))


def test_a_request_asked_again_by_the_same_rule_keeps_waiting_and_another_rule_restarts_it():
    waiting = pending()
    again = replace(waiting, requested_at=NOW + timedelta(hours=5))
    assert waiting.keeps(again)
    assert not waiting.keeps(replace(again, rule="another rule"))
    assert not waiting.keeps(replace(again, performer=Person("boss@example.com")))
    decided = waiting.approve(ANNA, GROUPS, NOW)
    assert not decided.keeps(again)
