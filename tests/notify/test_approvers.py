"""Approvers are told of the bookings waiting for them, in a real SMTP server on a
loopback port: a person, each member of a group, a role's addresses; one mail each at
once, or digests gathering several requests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from calsync.config import Settings, parse
from calsync.domain.approvals import Group, Performer, Person, Role, approval_for
from calsync.domain.bookings import Booking
from calsync.domain.notices import ApprovalRequested
from calsync.notify.approvers import plan_notices, send_plan
from calsync.notify.mail import NoticeReport

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


def tell(config: Settings, waiting, *, told=frozenset(), last_sent=None, now=NOW) -> NoticeReport:
    """What the worker does each round: plan the notices due, send them."""
    plan = plan_notices(config, waiting, told=told, last_sent=last_sent or {}, now=now)
    return send_plan(config, plan)


def settings(port: int, digest_minutes: int = 0, **more) -> Settings:
    return parse(
        {
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "from_address": "calsync@example.com",
                "digest_minutes": digest_minutes,
                "public_url": "https://calsync.example.com",
            },
            "items": [{"name": "Boardroom", "time_zone": "Europe/Berlin", "capacity": 20}],
            "groups": {"facilities": {"members": ["anna@example.com", "ben@example.com"]}},
            "approvals": {"role_addresses": {"approver": ["desk@example.com"]}},
            "approval_rules": [
                {
                    "name": "large rooms",
                    "min_capacity": 10,
                    "performer": {"person": "boss@example.com"},
                    **more,
                }
            ],
        }
    )


def requested(
    config: Settings, reservation: str = "r-1", day: int = 8, performer: Performer | None = None
) -> ApprovalRequested:
    """The request the configured rules make of a two-hour booking of the Boardroom."""
    [boardroom] = config.workplace_items()
    start = datetime(2026, 12, day, 13, tzinfo=UTC)
    booking = Booking.of(boardroom, start, start + timedelta(hours=2), "carla@example.com")
    requirement = approval_for(booking, config.approval_rules_in_order())
    assert requirement is not None
    approval = requirement.request(reservation, NOW)
    request = ApprovalRequested.of(approval, booking, "Quarterly review", requirement.reason)
    request = replace(request, approval_id=42)
    if performer is not None:
        request = replace(request, performer=performer)
    return request


def test_an_approver_gets_the_notification_email(mail_sink):
    config = settings(mail_sink.port)
    report = tell(config, [requested(config)])
    assert report.failed == ()
    assert report.told() == {("r-1", "boss@example.com")}
    [mail] = mail_sink.received
    assert mail.recipients == ["boss@example.com"]
    assert mail.message["To"] == "boss@example.com"
    assert mail.message["From"] == "calsync@example.com"
    assert mail.message["Subject"] == ("Approval needed: Boardroom, Tue 08 Dec 2026 14:00-16:00")
    body = mail.body
    assert "Quarterly review" in body
    assert "Organizer:   carla@example.com" in body
    assert "Rule:        large rooms" in body
    assert "rule 'large rooms' matched: for 20 people, at least 10" in body
    assert "Expires:     Thu 03 Dec 2026 09:00 (Europe/Berlin)" in body
    assert "calsync approvals approve r-1" in body
    assert 'calsync approvals reject r-1 --reason "..."' in body
    assert "POST https://calsync.example.com/api/v1/approvals/42/approve" in body


def test_each_member_of_a_group_gets_a_mail_of_their_own(mail_sink):
    config = settings(mail_sink.port)
    report = tell(config, [requested(config, performer=Group("facilities"))])
    assert report.told() == {("r-1", "anna@example.com"), ("r-1", "ben@example.com")}
    assert [m.recipients for m in mail_sink.received] == [
        ["anna@example.com"],
        ["ben@example.com"],
    ]


def test_a_role_is_written_to_at_its_configured_addresses(mail_sink):
    config = settings(mail_sink.port)
    tell(config, [requested(config, performer=Role("approver"))])
    assert [m.recipients for m in mail_sink.received] == [["desk@example.com"]]


def test_a_role_without_addresses_is_reported_and_the_others_are_still_told(mail_sink):
    config = settings(mail_sink.port)
    report = tell(
        config, [requested(config, "r-1", performer=Role("admin")), requested(config, "r-2")]
    )
    [nobody] = report.failed
    assert nobody.reservations == ("r-1",)
    assert "role admin has no address" in nobody.reason
    assert [m.recipients for m in mail_sink.received] == [["boss@example.com"]]


def test_a_refused_member_is_reported_and_the_other_member_is_told(mail_sink):
    mail_sink.refuse = {"anna@example.com"}
    config = settings(mail_sink.port)
    report = tell(config, [requested(config, performer=Group("facilities"))])
    assert [(f.recipient, f.reservations) for f in report.failed] == [
        ("anna@example.com", ("r-1",))
    ]
    assert report.told() == {("r-1", "ben@example.com")}
    assert [m.recipients for m in mail_sink.received] == [["ben@example.com"]]


def test_a_digest_is_one_mail_with_every_request_waiting_then_none_within_the_interval(
    mail_sink,
):
    config = settings(mail_sink.port, digest_minutes=60)
    waiting = [requested(config, f"r-{day}", day=day) for day in (9, 8, 10)]
    first = tell(config, waiting, told=set(), last_sent={}, now=NOW)
    assert first.told() == {("r-8", "boss@example.com"), ("r-9", "boss@example.com"),
                            ("r-10", "boss@example.com")}  # fmt: skip
    [digest] = mail_sink.received
    assert digest.message["Subject"] == "Approval needed: 3 bookings wait for your decision"
    assert [line for line in digest.body.splitlines() if line.startswith("When:")] == [
        "When:        Tue 08 Dec 2026 14:00-16:00 (Europe/Berlin)",
        "When:        Wed 09 Dec 2026 14:00-16:00 (Europe/Berlin)",
        "When:        Thu 10 Dec 2026 14:00-16:00 (Europe/Berlin)",
    ]
    for reservation in ("r-8", "r-9", "r-10"):
        assert f"  calsync approvals approve {reservation}" in digest.body.splitlines()

    newer = [*waiting, requested(config, "r-11", day=11)]
    last_sent = {"boss@example.com": NOW}
    told = first.told()
    soon = tell(config, newer, told=told, last_sent=last_sent, now=NOW + timedelta(minutes=59))
    assert soon.sent == ()
    later = tell(config, newer, told=told, last_sent=last_sent, now=NOW + timedelta(hours=1))
    assert later.told() == {("r-11", "boss@example.com")}
    assert len(mail_sink.received) == 2
    assert "approve r-11" in mail_sink.received[1].body
    assert "approve r-8" not in mail_sink.received[1].body


def test_without_digests_the_flush_catches_up_on_what_could_not_be_sent(mail_sink):
    config = settings(mail_sink.port)
    waiting = [requested(config, "r-1"), requested(config, "r-2")]
    told = {("r-1", "boss@example.com")}  # r-2's mail failed when it was made
    report = tell(config, waiting, told=told, last_sent={}, now=NOW)
    assert report.told() == {("r-2", "boss@example.com")}
    [mail] = mail_sink.received
    assert "approve r-2" in mail.body


def test_without_an_smtp_section_nobody_is_written_to():
    config = parse({})
    request = requested(settings(25))
    plan = plan_notices(config, [request], told=set(), last_sent={}, now=NOW)
    assert plan.notices == ()
    assert plan.unaddressed == ()


def test_a_person_rule_is_told_to_that_person_whatever_the_case(mail_sink):
    config = settings(mail_sink.port)
    request = requested(config, performer=Person("Boss@Example.com"))
    assert tell(config, [request]).told() == {("r-1", "boss@example.com")}
