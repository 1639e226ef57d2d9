"""A room whose own calendar approves requests too (an Exchange room mailbox whose
delegates decide: `room_approves`), against Radicale: calsync reads the room's answer
instead of giving it, and confirms a booking only once both sides approved."""

from __future__ import annotations

import pytest

from calsync.domain.approvals import ApprovalState, Identity
from calsync.providers.caldav import CalDAVProvider
from calsync.store.approvals import ApprovalFilter
from calsync.sync.approvals import decide_approvals
from tests.sync.calendars import book, drain, partstats, reservations, room_settings, sync

BOSS = Identity("boss@example.com")
RULES = {
    "approval_rules": [
        {"name": "board", "items": ["Room A"], "performer": {"person": "boss@example.com"}}
    ]
}


@pytest.fixture
def organizer(radicale):
    provider = CalDAVProvider(radicale.url, timeout=10.0)
    yield provider
    provider.close()


def delegate_answers(organizer, calendar: str, href: str, partstat: str) -> None:
    """The room's delegate answers in the calendar, as Exchange writes it."""
    current = organizer.get(calendar, href)
    text = current.data.decode()
    for before in ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"):
        text = text.replace(
            f"PARTSTAT={before}:mailto:room-a", f"PARTSTAT={partstat}:mailto:room-a"
        )
    organizer.update(calendar, href, text.encode(), current.version)


def only(services):
    [reservation] = reservations(services)
    return reservation


def waiting(services):
    with services.read() as uow:
        return uow.approvals.find(ApprovalFilter(ApprovalState.pending))


@pytest.fixture
def both(make_services, room_calendar):
    return make_services(room_settings(room_calendar, room_approves=True), None, RULES)


def test_approved_in_calsync_then_by_the_room_is_confirmed(both, organizer, room_calendar):
    href = book(organizer, room_calendar, "m1", 3)
    sync(both)
    drain(both)
    assert (only(both).status, only(both).provider_approval) == ("pending_approval", "awaiting")
    assert partstats(organizer, room_calendar) == {"m1": "NEEDS-ACTION"}  # calsync did not answer
    [request] = waiting(both)
    decide_approvals(both, [request.id], BOSS, approve=True)
    drain(both)
    assert (only(both).status, only(both).reason) == (
        "awaiting_confirmation",
        "waiting for the room's own approval in the calendar",
    )
    assert partstats(organizer, room_calendar) == {"m1": "NEEDS-ACTION"}
    delegate_answers(organizer, room_calendar, href, "ACCEPTED")
    sync(both)
    assert (only(both).status, only(both).provider_approval) == ("confirmed", "accepted")


def test_approved_by_the_room_first_is_confirmed_by_calsync_s_approval(
    both, organizer, room_calendar
):
    href = book(organizer, room_calendar, "m1", 3)
    sync(both)
    delegate_answers(organizer, room_calendar, href, "ACCEPTED")
    sync(both)
    assert (only(both).status, only(both).provider_approval) == ("pending_approval", "accepted")
    [request] = waiting(both)
    decide_approvals(both, [request.id], BOSS, approve=True)
    assert only(both).status == "confirmed"


def test_declined_by_the_room_is_declined_and_its_request_withdrawn(both, organizer, room_calendar):
    href = book(organizer, room_calendar, "m1", 3)
    sync(both)
    delegate_answers(organizer, room_calendar, href, "DECLINED")
    sync(both)
    reservation = only(both)
    assert (reservation.status, reservation.reason) == (
        "declined",
        "the room's own approval declined it in the calendar",
    )
    assert waiting(both) == []


def test_rejected_in_calsync_frees_the_room_in_the_calendar(both, organizer, room_calendar):
    book(organizer, room_calendar, "m1", 3)
    sync(both)
    [request] = waiting(both)
    decide_approvals(both, [request.id], BOSS, approve=False, reason="taken")
    drain(both)
    assert only(both).status == "declined"
    assert partstats(organizer, room_calendar) == {"m1": "DECLINED"}


def test_without_an_approval_rule_a_booking_waits_for_the_room_alone(
    make_services, room_calendar, organizer
):
    services = make_services(room_settings(room_calendar, room_approves=True))
    href = book(organizer, room_calendar, "m1", 3)
    sync(services)
    assert only(services).status == "awaiting_confirmation"
    delegate_answers(organizer, room_calendar, href, "ACCEPTED")
    sync(services)
    assert only(services).status == "confirmed"
