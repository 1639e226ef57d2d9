"""What approvers are told: who gets a notice of a booking waiting for approval, what it
says, and how a digest gathers a recipient's requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calsync.domain.approvals import ApprovalRule, ApprovalRules, Group, Person, Role, approval_for
from calsync.domain.bookings import Booking
from calsync.domain.items import WorkplaceItem
from calsync.domain.notices import (
    AddressBook,
    ApprovalRequested,
    digest_notices,
    notices_for,
)

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
BOARDROOM = WorkplaceItem("Boardroom", time_zone="Europe/Berlin", capacity=20)
BOSS = Person("boss@example.com")
BOOK = AddressBook(
    groups={"facilities": frozenset({"anna@example.com", "ben@example.com"})},
    roles={"approver": frozenset({"desk@example.com"})},
)


def requested(
    reservation="r-1",
    performer=BOSS,
    start=datetime(2026, 12, 8, 13, tzinfo=UTC),
    hours=2,
    subject="Quarterly review",
    expires_at=NOW + timedelta(hours=48),
) -> ApprovalRequested:
    return ApprovalRequested(
        reservation=reservation,
        item="Boardroom",
        time_zone="Europe/Berlin",
        subject=subject,
        organizer="carla@example.com",
        start=start,
        end=start + timedelta(hours=hours),
        rule="large rooms",
        reason="rule 'large rooms' matched: for 20 people, at least 10",
        performer=performer,
        expires_at=expires_at,
        approval_id=7,
    )


def test_a_person_is_told_at_their_address_in_lower_case():
    plan = notices_for([requested(performer=Person("Boss@Example.com"))], BOOK)
    assert [n.recipient for n in plan.notices] == ["boss@example.com"]
    assert plan.unaddressed == ()


def test_each_member_of_a_group_is_told_in_a_notice_of_their_own():
    plan = notices_for([requested(performer=Group("facilities"))], BOOK)
    assert [n.recipient for n in plan.notices] == ["anna@example.com", "ben@example.com"]
    assert {n.reservations for n in plan.notices} == {("r-1",)}


def test_a_role_is_told_at_the_addresses_configured_for_it():
    plan = notices_for([requested(performer=Role("approver"))], BOOK)
    assert [n.recipient for n in plan.notices] == ["desk@example.com"]


def test_a_role_without_addresses_is_reported_unaddressed_with_where_to_give_them():
    plan = notices_for([requested(performer=Role("admin"))], BOOK)
    assert plan.notices == ()
    [nobody] = plan.unaddressed
    assert nobody.reservation == "r-1"
    assert "role admin" in nobody.reason
    assert "role_addresses" in nobody.reason


def test_the_notice_names_the_booking_on_the_items_clock_the_rule_and_its_reason():
    [notice] = notices_for([requested()], BOOK).notices
    assert notice.subject == "Approval needed: Boardroom, Tue 08 Dec 2026 14:00-16:00"
    body = notice.body
    assert "Quarterly review" in body
    assert "carla@example.com" in body
    assert "Tue 08 Dec 2026 14:00-16:00 (Europe/Berlin)" in body
    assert "Rule:        large rooms" in body
    assert "for 20 people, at least 10" in body
    assert "Decided by:  boss@example.com" in body


def test_the_notice_says_when_the_request_expires_and_how_to_decide():
    [notice] = notices_for([requested()], BOOK).notices
    assert "Expires:     Thu 03 Dec 2026 09:00 (Europe/Berlin)" in notice.body
    assert "calsync approvals approve r-1" in notice.body
    assert 'calsync approvals reject r-1 --reason "..."' in notice.body
    assert "POST" not in notice.body


def test_with_a_public_url_the_notice_names_the_api_routes_to_decide():
    [notice] = notices_for([requested()], BOOK, decide_url="https://calsync.example.com/").notices
    assert "POST https://calsync.example.com/api/v1/approvals/7/approve" in notice.body
    assert "https://calsync.example.com/api/v1/approvals/7/reject" in notice.body


def test_a_booking_over_midnight_names_the_day_it_ends():
    late = requested(start=datetime(2026, 12, 8, 21, tzinfo=UTC), hours=3)
    [notice] = notices_for([late], BOOK).notices
    assert "When:        Tue 08 Dec 2026 22:00-Wed 09 Dec 2026 01:00 (Europe/Berlin)" in notice.body
    assert notice.subject.endswith("Tue 08 Dec 2026 22:00-Wed 09 Dec 2026 01:00")


def test_a_subject_cannot_forge_lines_of_the_message():
    forged = requested(subject="Lunch\n\nTo decide:\n  calsync approvals approve r-9")
    [notice] = notices_for([forged], BOOK).notices
    assert "Booking:     Lunch To decide: calsync approvals approve r-9" in notice.body
    assert "\n  calsync approvals approve r-9" not in notice.body


def test_a_request_is_made_from_the_approval_and_the_booking():
    start = datetime(2026, 12, 8, 13, tzinfo=UTC)
    booking = Booking.of(BOARDROOM, start, start + timedelta(hours=1), "Carla@Example.com")
    rules = ApprovalRules((ApprovalRule("big", Group("facilities"), min_capacity=10),))
    requirement = approval_for(booking, rules)
    assert requirement is not None
    approval = requirement.request("r-7", NOW)
    request = ApprovalRequested.of(approval, booking, "Review", requirement.reason)
    assert (request.reservation, request.rule, request.organizer) == (
        "r-7",
        "big",
        "carla@example.com",
    )
    assert request.expires_at == NOW + timedelta(hours=48)
    assert "for 20 people, at least 10" in request.reason


# --- digests --------------------------------------------------------------------------------


def digest(waiting, told=(), last_sent=None, now=NOW, every=timedelta(minutes=60)):
    return digest_notices(
        waiting, BOOK, told=set(told), last_sent=last_sent or {}, now=now, every=every
    )


def test_a_digest_gathers_a_recipients_requests_into_one_notice_soonest_to_expire_first():
    later = requested("r-1", expires_at=NOW + timedelta(hours=40))
    sooner = requested("r-2", expires_at=NOW + timedelta(hours=20))
    [notice] = digest([later, sooner]).notices
    assert notice.recipient == "boss@example.com"
    assert notice.reservations == ("r-2", "r-1")
    assert notice.subject == "Approval needed: 2 bookings wait for your decision"
    assert notice.body.index("approve r-2") < notice.body.index("approve r-1")


def test_a_digest_tells_nobody_again_of_a_request_they_were_told_of():
    plan = digest([requested("r-1"), requested("r-2")], told={("r-1", "boss@example.com")})
    [notice] = plan.notices
    assert notice.reservations == ("r-2",)
    assert digest([requested("r-1")], told={("r-1", "boss@example.com")}).notices == ()


def test_a_digest_waits_until_the_recipients_last_one_is_old_enough():
    waiting = [requested("r-1", performer=Group("facilities"))]
    recent = {"anna@example.com": NOW - timedelta(minutes=59)}
    assert [n.recipient for n in digest(waiting, last_sent=recent).notices] == ["ben@example.com"]
    old = {"anna@example.com": NOW - timedelta(minutes=60)}
    assert len(digest(waiting, last_sent=old).notices) == 2


def test_a_digest_leaves_out_requests_already_expired():
    assert digest([requested(expires_at=NOW)]).notices == ()


def test_a_digest_reports_requests_nobody_can_be_told_of():
    plan = digest([requested("r-3", performer=Role("admin"))])
    assert [u.reservation for u in plan.unaddressed] == ["r-3"]
