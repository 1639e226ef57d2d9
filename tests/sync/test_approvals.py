"""Approvals end to end against Radicale: what the organizer's calendar shows of a booking
that waits for a performer, and of the decision."""

from __future__ import annotations

import threading

import pytest

from calsync.domain.approvals import Identity
from calsync.errors import ApprovalDecided, NotAPerformer
from calsync.providers.caldav import CalDAVProvider
from calsync.store.approvals import ApprovalFilter
from calsync.sync.approvals import decide_approvals, expire_due
from tests.sync.calendars import (
    book,
    drain,
    ics,
    partstats,
    reservations,
    room_settings,
    sync,
    vevent,
)

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


@pytest.fixture
def approving(make_services, room_calendar):
    return make_services(room_settings(room_calendar), None, RULES)


def approvals(services, state=None):
    from calsync.domain.approvals import ApprovalState

    wanted = ApprovalState(state) if state else None
    with services.read() as uow:
        return uow.approvals.find(ApprovalFilter(wanted))


def only_reservation(services):
    [reservation] = reservations(services)
    return reservation


def test_a_booking_that_needs_approval_shows_tentative_then_accepted_once_approved(
    approving, organizer, room_calendar
):
    book(organizer, room_calendar, "m1", 3)
    sync(approving)
    drain(approving)
    assert only_reservation(approving).status == "pending_approval"
    assert partstats(organizer, room_calendar) == {"m1": "TENTATIVE"}
    [waiting] = approvals(approving, "pending")
    assert waiting.approval.rule == "board"
    assert "rule 'board' matched" in waiting.requested_because

    decision = decide_approvals(approving, [waiting.id], BOSS, approve=True, reason="fine")
    drain(approving)
    assert only_reservation(approving).status == "confirmed"
    assert partstats(organizer, room_calendar) == {"m1": "ACCEPTED"}
    [decided] = approvals(approving, "approved")
    assert (decided.approval.decided_by, decided.approval.reason) == ("boss@example.com", "fine")
    with approving.read() as uow:
        event = uow.events.get(decision.events[0])
    assert event.state == "processed"
    assert '"decided_by": "boss@example.com"' in event.payload


def test_a_rejected_booking_shows_declined_with_the_reason(approving, organizer, room_calendar):
    book(organizer, room_calendar, "m1", 3)
    sync(approving)
    drain(approving)
    [waiting] = approvals(approving, "pending")
    decide_approvals(approving, [waiting.id], BOSS, approve=False, reason="board meeting then")
    drain(approving)
    reservation = only_reservation(approving)
    assert (reservation.status, reservation.reason) == ("declined", "board meeting then")
    assert partstats(organizer, room_calendar) == {"m1": "DECLINED"}
    # The room is free again: the next booking of that slot is accepted (after approval).
    book(organizer, room_calendar, "m2", 3)
    sync(approving)
    assert {r.uid: r.status for r in reservations(approving)}["m2"] == "pending_approval"


def test_an_undecided_request_expires_as_declined(approving, organizer, room_calendar, clock):
    book(organizer, room_calendar, "m1", 3)
    sync(approving)
    drain(approving)
    assert expire_due(approving).expired == []  # not yet
    clock.advance(hours=48)
    expiry = expire_due(approving)
    drain(approving)
    assert len(expiry.expired) == 1
    reservation = only_reservation(approving)
    assert reservation.status == "declined"
    assert reservation.reason == "no decision within 2 days"
    assert partstats(organizer, room_calendar) == {"m1": "DECLINED"}
    [waiting] = approvals(approving, "expired")
    with pytest.raises(ApprovalDecided, match="already expired"):
        decide_approvals(approving, [waiting.id], BOSS, approve=True)


def test_two_approvers_at_once_make_one_decision(make_services, room_calendar, organizer):
    group_rules = {
        "groups": {"facilities": {"members": ["anna@example.com", "ben@example.com"]}},
        "approval_rules": [
            {"name": "board", "items": ["Room A"], "performer": {"group": "facilities"}}
        ],
    }
    services = make_services(room_settings(room_calendar), None, group_rules)
    book(organizer, room_calendar, "m1", 3)
    sync(services)
    [waiting] = approvals(services, "pending")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def decide(who: str, approve: bool) -> None:
        start.wait()
        try:
            decide_approvals(services, [waiting.id], Identity(who), approve)
            outcomes.append(f"{who} decided")
        except ApprovalDecided as exc:
            outcomes.append(f"refused: {exc}")

    threads = [
        threading.Thread(target=decide, args=("anna@example.com", True)),
        threading.Thread(target=decide, args=("ben@example.com", False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([o for o in outcomes if o.endswith("decided")]) == 1, outcomes
    assert len([o for o in outcomes if o.startswith("refused")]) == 1, outcomes
    [decided] = [a for a in approvals(services) if a.approval.state != "pending"]
    status = only_reservation(services).status
    assert status == ("confirmed" if decided.approval.state == "approved" else "declined")
    with services.read() as uow:
        from calsync.store.records import RecordFilter

        answers = uow.events.find(RecordFilter(action="respond", limit=10))
    assert len([e for e in answers if "decision" in e.payload]) == 1


def test_only_the_performer_decides_and_not_the_organizer(approving, organizer, room_calendar):
    book(organizer, room_calendar, "m1", 3)
    sync(approving)
    [waiting] = approvals(approving, "pending")
    with pytest.raises(NotAPerformer, match=r"boss@example\.com decides it"):
        decide_approvals(approving, [waiting.id], Identity("eve@example.com"), approve=True)
    assert only_reservation(approving).status == "pending_approval"


def test_an_organizer_holding_the_performer_role_does_not_approve_their_own_booking(
    make_services, room_calendar, organizer
):
    by_role = {
        "approval_rules": [
            {"name": "board", "items": ["Room A"], "performer": {"role": "approver"}}
        ]
    }
    services = make_services(room_settings(room_calendar), None, by_role)
    book(organizer, room_calendar, "m1", 3)
    sync(services)
    [waiting] = approvals(services, "pending")
    alice = Identity("alice@example.com", frozenset({"approver"}))
    with pytest.raises(NotAPerformer, match="does not decide the approval of their own booking"):
        decide_approvals(services, [waiting.id], alice, approve=True)
    colleague = Identity("carol@example.com", frozenset({"approver"}))
    decide_approvals(services, [waiting.id], colleague, approve=True)
    assert only_reservation(services).status == "confirmed"


def test_a_pending_booking_moved_in_the_calendar_keeps_its_request_and_a_cancelled_one_withdraws_it(
    approving, organizer, room_calendar
):
    href = book(organizer, room_calendar, "m1", 3)
    sync(approving)
    [first] = approvals(approving, "pending")
    moved = vevent("m1", "20261203T140000", "20261203T150000", "Meeting m1", sequence=1)
    organizer.update(room_calendar, href, ics(moved), None)
    sync(approving)
    [still] = approvals(approving, "pending")
    assert still.id == first.id  # the same rule asks again: the request stands
    assert only_reservation(approving).start.hour == 13  # 14:00 Berlin
    organizer.delete(room_calendar, href, None)
    sync(approving)
    assert approvals(approving, "pending") == []
    [withdrawn] = approvals(approving, "withdrawn")
    assert withdrawn.id == first.id
    assert only_reservation(approving).status == "cancelled"


def _weekly_series_with_two_taken(services, organizer, calendar):
    """Someone's weekly series of 10 at 10:00 Berlin from Monday 7 December; two of its
    dates are already taken in the room by other meetings."""
    for uid, day in (("taken1", 14), ("taken2", 28)):
        book(organizer, calendar, uid, day)
    sync(services)
    rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n"
    organizer.create(
        calendar, "weekly", ics(vevent("weekly", "20261207T100000", "20261207T110000", extra=rule))
    )
    sync(services)
    drain(services)
    return [r for r in reservations(services) if r.uid == "weekly"]


def _series_policy(percent: int) -> dict[str, object]:
    return {"policies": {"defaults": {"series_max_conflict_percent": percent}}}


def _room_answers_of_series(organizer, calendar) -> dict[str, str]:
    """The room's PARTSTAT in the series' master and in each override, by RECURRENCE-ID."""
    from calsync.providers.ical.reader import parse_calendar

    found = {}
    for change in organizer.fetch_changes(calendar, None).changes:
        for event in parse_calendar(change.data).walk("VEVENT"):
            if str(event["UID"]) != "weekly":
                continue
            key = (
                event.decoded("RECURRENCE-ID").date().isoformat()
                if "RECURRENCE-ID" in event
                else "master"
            )
            attendees = event.get("ATTENDEE")
            attendees = attendees if isinstance(attendees, list) else [attendees]
            found[key] = next(str(a.params["PARTSTAT"]) for a in attendees if "room-a" in str(a))
    return found


def test_a_series_with_2_of_10_in_conflict_is_accepted_with_those_declined_under_25_percent(
    make_services, room_calendar, organizer
):
    services = make_services(room_settings(room_calendar), None, _series_policy(25))
    series = _weekly_series_with_two_taken(services, organizer, room_calendar)
    statuses = sorted(r.status for r in series)
    assert statuses.count("confirmed") == 8
    assert statuses.count("declined") == 2
    assert _room_answers_of_series(organizer, room_calendar) == {
        "master": "ACCEPTED",
        "2026-12-14": "DECLINED",
        "2026-12-28": "DECLINED",
    }
    sync(services)  # reading the answered series back changes nothing
    assert sorted(r.status for r in reservations(services) if r.uid == "weekly") == statuses


def test_a_series_with_2_of_10_in_conflict_is_declined_whole_under_10_percent(
    make_services, room_calendar, organizer
):
    services = make_services(room_settings(room_calendar), None, _series_policy(10))
    series = _weekly_series_with_two_taken(services, organizer, room_calendar)
    assert {r.status for r in series} == {"declined"}
    assert "series_conflicts: 2 of 10 occurrences conflict (20%)" in series[0].reason
    assert _room_answers_of_series(organizer, room_calendar) == {"master": "DECLINED"}


def test_a_series_is_approved_as_a_whole_or_occurrence_by_occurrence(
    approving, organizer, room_calendar
):
    rule = "RRULE:FREQ=WEEKLY;COUNT=3\r\n"
    organizer.create(
        room_calendar,
        "weekly",
        ics(vevent("weekly", "20261207T100000", "20261207T110000", extra=rule)),
    )
    sync(approving)
    with approving.read() as uow:
        from calsync.store.records import RecordFilter

        [item] = uow.calendar_items.find(RecordFilter(limit=5))
    assert "waiting for approval 3 (rule 'board' matched" in item.outcome
    first, second, third = approvals(approving, "pending")
    decide_approvals(approving, [first.id], BOSS, approve=False, reason="not that week")
    drain(approving)
    assert _room_answers_of_series(organizer, room_calendar) == {
        "master": "TENTATIVE",
        "2026-12-07": "DECLINED",
    }
    decision = decide_approvals(approving, [second.id], BOSS, approve=True, whole_series=True)
    assert sorted(s.id for s in decision.approvals) == [second.id, third.id]
    drain(approving)
    assert _room_answers_of_series(organizer, room_calendar) == {
        "master": "ACCEPTED",
        "2026-12-07": "DECLINED",
    }
    statuses = sorted((r.start, r.status) for r in reservations(approving))
    assert [s for _, s in statuses] == ["declined", "confirmed", "confirmed"]


def test_a_waiting_booking_cancelled_in_calsync_withdraws_its_request(
    approving, organizer, room_calendar
):
    from calsync.sync import reservations as reservation_service

    book(organizer, room_calendar, "m1", 3)
    sync(approving)
    [waiting] = approvals(approving, "pending")
    reservation_service.cancel(approving, only_reservation(approving).id)
    assert approvals(approving, "pending") == []
    [withdrawn] = approvals(approving, "withdrawn")
    assert withdrawn.approval.reason == "cancelled in calsync"
    with pytest.raises(ApprovalDecided):
        decide_approvals(approving, [waiting.id], BOSS, approve=True)
