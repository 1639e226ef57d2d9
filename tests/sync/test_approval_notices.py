"""Approvers are told by mail of bookings waiting for them: a real SMTP server on a
loopback port receives what calsync sends after a synchronization against Radicale."""

from __future__ import annotations

import pytest

from calsync.providers.caldav import CalDAVProvider
from calsync.sync.approval_notices import notify_approvers
from tests.notify.conftest import MailSink, serving
from tests.sync.calendars import book, room_settings, sync


@pytest.fixture
def sink():
    with serving(MailSink()) as running:
        yield running


@pytest.fixture
def organizer(radicale):
    provider = CalDAVProvider(radicale.url, timeout=10.0)
    yield provider
    provider.close()


def mailing(sink: MailSink, digest_minutes: int = 0) -> dict[str, object]:
    return {
        "smtp": {
            "host": "127.0.0.1",
            "port": sink.port,
            "from_address": "calsync@example.com",
            "digest_minutes": digest_minutes,
        },
        "approval_rules": [
            {"name": "board", "items": ["Room A"], "performer": {"person": "boss@example.com"}}
        ],
    }


def test_an_approver_gets_the_notification_email_once(
    make_services, room_calendar, organizer, sink
):
    services = make_services(room_settings(room_calendar), None, mailing(sink))
    book(organizer, room_calendar, "m1", 3)
    sync(services)
    report = notify_approvers(services)
    assert [sent.recipient for sent in report.sent] == ["boss@example.com"]
    [mail] = sink.received
    assert mail.recipients == ["boss@example.com"]
    body = mail.message.get_body().get_content()
    assert "Meeting m1" in body
    assert "board" in body
    assert "calsync approvals approve" in body
    notify_approvers(services)  # the next turn of the worker's loop
    assert len(sink.received) == 1


def test_a_mail_that_failed_is_sent_on_the_next_turn(make_services, room_calendar, organizer, sink):
    services = make_services(room_settings(room_calendar), None, mailing(sink))
    book(organizer, room_calendar, "m1", 3)
    sync(services)
    sink.refuse.add("boss@example.com")
    report = notify_approvers(services)
    assert report.sent == ()
    assert "no such mailbox" in report.failed[0].reason
    sink.refuse.clear()
    notify_approvers(services)
    assert [mail.recipients for mail in sink.received] == [["boss@example.com"]]
