"""The approvals page through its forms: each approver sees and decides only the
approvals it is a performer for; a decision carries its reason to the reservation."""

from __future__ import annotations

import re

import pytest

from calsync.providers.caldav import CalDAVProvider
from tests.api.conftest import Api
from tests.sync.calendars import book, drain, reservations, room_settings, sync
from tests.web.conftest import Visitor

BOSS = "boss@example.com"
RULES = {"approval_rules": [{"name": "board", "items": ["Room A"], "performer": {"person": BOSS}}]}


@pytest.fixture
def waiting(make_services, room_calendar, radicale):
    """Room A's booking m1 waits for boss@example.com."""
    services = make_services(room_settings(room_calendar), None, RULES)
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    try:
        book(organizer, room_calendar, "m1", day=3)
        sync(services)
        drain(services)
    finally:
        organizer.close()
    return Api(services, room_calendar, None)


def approver(site: Api, address: str) -> Visitor:
    from calsync.domain.access import Role

    with site.services.uow() as uow:
        token = uow.tokens.issue(Role.approver, site.services.clock(), address, address)
        uow.commit()
    visitor = Visitor(site, None, token)
    assert visitor.log_in().headers["location"] == "/admin/approvals"
    return visitor


def listed(visitor: Visitor) -> list[str]:
    return re.findall(
        r'<article class="approval" id="approval-(\d+)"', visitor.get("/admin/approvals").text
    )


def test_an_approver_sees_only_the_approvals_it_is_a_performer_for(waiting):
    assert listed(approver(waiting, BOSS)) == ["1"]
    assert listed(approver(waiting, "someone@example.com")) == []
    admin = Visitor(waiting, "admin")
    admin.log_in()
    assert listed(admin) == ["1"]


def test_an_approver_that_is_not_the_performer_cannot_decide(waiting):
    other = approver(waiting, "someone@example.com")
    answer = other.post_form(
        "/admin/approvals", "/admin/approvals/1/decide", {"decision": "approve"}
    )
    assert answer.status_code == 403
    [booking] = reservations(waiting.services)
    assert booking.status == "pending_approval"


def test_a_rejection_declines_the_booking_with_its_reason(waiting):
    boss = approver(waiting, BOSS)
    answer = boss.post_form(
        "/admin/approvals",
        "/admin/approvals/1/decide",
        {"decision": "reject", "reason": "the board meets there"},
    )
    assert answer.status_code == 303
    assert "rejected #1" in boss.get(answer.headers["location"]).text
    drain(waiting.services)
    [booking] = reservations(waiting.services)
    assert booking.status == "declined"
    assert "the board meets there" in booking.reason
    again = boss.post_form(
        "/admin/approvals?state=all", "/admin/approvals/1/decide", {"decision": "approve"}
    )
    assert again.status_code == 303
    assert "already" in boss.get(again.headers["location"]).text
