"""Review: approvers told in digests of a booking that asks for approval a second time."""

from __future__ import annotations

import pytest

from calsync.domain.approvals import Identity
from calsync.providers.caldav import CalDAVProvider
from calsync.store.approvals import ApprovalFilter
from calsync.sync.approval_notices import notify_approvers
from calsync.sync.approvals import decide_approvals
from tests.notify.conftest import MailSink, serving
from tests.sync.calendars import book, drain, ics, room_settings, sync, vevent
from tests.sync.test_approval_notices import mailing


@pytest.fixture
def sink():
    with serving(MailSink()) as running:
        yield running


@pytest.fixture
def organizer(radicale):
    provider = CalDAVProvider(radicale.url, timeout=10.0)
    yield provider
    provider.close()


def test_in_digests_a_new_request_for_a_booking_rejected_before_is_told(
    make_services, room_calendar, organizer, sink, clock
):
    """Rejected, then moved by its organizer: the booking waits again, under a new
    request. The approver was told of the first request; the digest must tell them of
    the second (who was told is kept by reservation, not by request, so it never is)."""
    services = make_services(room_settings(room_calendar), None, mailing(sink, 60))
    href = book(organizer, room_calendar, "m1", 3)
    sync(services)
    notify_approvers(services)
    assert len(sink.received) == 1
    with services.read() as uow:
        [first] = uow.approvals.find(ApprovalFilter())
    decide_approvals(services, [first.id], Identity("boss@example.com"), False, "not then")
    drain(services)
    moved = vevent("m1", "20261203T140000", "20261203T150000", "Meeting m1", sequence=1)
    organizer.update(room_calendar, href, ics(moved), None)
    sync(services)
    with services.read() as uow:
        second = [s for s in uow.approvals.find(ApprovalFilter()) if s.id != first.id]
    assert [s.approval.state.value for s in second] == ["pending"]
    clock.advance(hours=2)
    notify_approvers(services)
    assert len(sink.received) == 2, "the approver never hears of the second request"


def test_two_workers_telling_approvers_at_once_mail_each_request_once(
    make_services, room_calendar, organizer, sink, monkeypatch
):
    """Every worker runs `notify_approvers` on every turn ("any number of workers"), with
    nothing claimed between reading the requests not yet told and recording them told:
    a second worker's turn falling while the first one's mail is on its way (here: run
    from inside the first's send) mails the same approver the same request again."""
    from calsync.sync import approval_notices

    services = make_services(room_settings(room_calendar), None, mailing(sink))
    book(organizer, room_calendar, "m1", 3)
    sync(services)
    real = approval_notices.send_plan
    turns = []

    def first_worker_sending(settings, plan):
        if not turns:
            turns.append("second worker's turn")
            notify_approvers(services)  # the other worker, at the same moment
        return real(settings, plan)

    monkeypatch.setattr(approval_notices, "send_plan", first_worker_sending)
    notify_approvers(services)
    assert len(sink.received) == 1, [m.recipients for m in sink.received]
