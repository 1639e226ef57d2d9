"""Sending notices to a real SMTP server on a loopback port: each notice one message to
its recipient; a refused recipient, a server down or silent, a refused login each fail
only what they touch, with the reason, never with the password."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from calsync.config import parse
from calsync.config_mail import SmtpSettings
from calsync.domain.notices import Notice
from calsync.notify.mail import send_notices
from tests.notify.conftest import MailSink, free_port, serving

PASSWORD = "letmein-77"
#: The sink takes a login in the clear on its loopback port, as calsync allows there.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def smtp(port: int, **more) -> SmtpSettings:
    section = {"host": "127.0.0.1", "port": port, "from_address": "calsync@example.com"}
    settings = parse({"smtp": {**section, **more}}).smtp
    assert settings is not None
    return settings


def notice(to: str, reservation: str = "r-1") -> Notice:
    return Notice(
        recipient=to,
        subject=f"Approval needed: Boardroom ({reservation})",
        body=f"A booking waits for your approval.\n\ncalsync approvals approve {reservation}\n",
        reservations=(reservation,),
    )


def test_a_notice_is_one_message_to_its_recipient_from_the_configured_address(mail_sink):
    report = send_notices(smtp(mail_sink.port), [notice("anna@example.com")])
    assert report.failed == ()
    assert report.told() == {("r-1", "anna@example.com")}
    [received] = mail_sink.received
    assert received.sender == "calsync@example.com"
    assert received.recipients == ["anna@example.com"]
    assert received.message["To"] == "anna@example.com"
    assert received.message["From"] == "calsync@example.com"
    assert received.message["Subject"] == "Approval needed: Boardroom (r-1)"
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert "calsync approvals approve r-1" in received.body


def test_a_refused_recipient_fails_alone_and_the_others_are_sent(mail_sink):
    mail_sink.refuse = {"ben@example.com"}
    notices = [notice(a) for a in ("anna@example.com", "ben@example.com", "carl@example.com")]
    report = send_notices(smtp(mail_sink.port), notices)
    assert [s.recipient for s in report.sent] == ["anna@example.com", "carl@example.com"]
    [failed] = report.failed
    assert failed.recipient == "ben@example.com"
    assert failed.reservations == ("r-1",)
    assert "refused recipient ben@example.com: 550 5.1.1" in failed.reason
    assert "no such mailbox" in failed.reason
    assert sorted(r.recipients[0] for r in mail_sink.received) == [
        "anna@example.com",
        "carl@example.com",
    ]


def test_an_address_in_unicode_goes_to_a_server_taking_it_and_fails_alone_elsewhere():
    addresses = ("anna@example.com", "jörg@example.com", "carl@example.com")
    with serving(MailSink(), enable_SMTPUTF8=True) as sink:
        report = send_notices(smtp(sink.port), [notice(a) for a in addresses])
        assert [s.recipient for s in report.sent] == list(addresses)
    with serving(MailSink(), enable_SMTPUTF8=False) as sink:
        report = send_notices(smtp(sink.port), [notice(a) for a in addresses])
        assert [s.recipient for s in report.sent] == ["anna@example.com", "carl@example.com"]
        [failed] = report.failed
        assert failed.recipient == "jörg@example.com"
        assert "SMTPUTF8" in failed.reason
        assert [r.recipients for r in sink.received] == [["anna@example.com"], ["carl@example.com"]]


def test_a_server_hanging_up_mid_batch_fails_the_rest_and_keeps_what_it_took(mail_sink):
    mail_sink.hang_up_after = 1
    notices = [notice(a) for a in ("anna@example.com", "ben@example.com", "carl@example.com")]
    report = send_notices(smtp(mail_sink.port), notices)
    assert [s.recipient for s in report.sent] == ["anna@example.com"]
    assert [f.recipient for f in report.failed] == ["ben@example.com", "carl@example.com"]
    for failed in report.failed:
        assert failed.reason.startswith(f"mail server 127.0.0.1:{mail_sink.port}")
    assert [r.recipients for r in mail_sink.received] == [["anna@example.com"]]


def test_a_server_down_fails_every_notice_with_a_clear_reason():
    port = free_port()  # nothing listens there
    report = send_notices(smtp(port), [notice("anna@example.com"), notice("ben@example.com")])
    assert report.sent == ()
    assert [f.recipient for f in report.failed] == ["anna@example.com", "ben@example.com"]
    for failed in report.failed:
        assert failed.reason == f"mail server 127.0.0.1:{port}: unreachable (Connection refused)"


def test_a_server_that_never_answers_fails_after_the_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # takes the connection, never says hello
        port = silent.getsockname()[1]
        started = time.monotonic()
        report = send_notices(smtp(port, timeout=0.5), [notice("anna@example.com")])
        waited = time.monotonic() - started
    [failed] = report.failed
    assert failed.reason == f"mail server 127.0.0.1:{port}: no answer within 0.5 s (timeout)"
    assert waited < 5


def test_a_login_is_given_when_a_password_is_configured(mail_sink_with_login, monkeypatch):
    monkeypatch.setenv("CALSYNC_TEST_SMTP_PASSWORD", PASSWORD)
    settings = smtp(
        mail_sink_with_login.port, username="calsync", password_env="CALSYNC_TEST_SMTP_PASSWORD"
    )
    report = send_notices(settings, [notice("anna@example.com")])
    assert report.failed == ()
    assert mail_sink_with_login.logins == [("calsync", PASSWORD)]
    assert len(mail_sink_with_login.received) == 1


@pytest.mark.parametrize("echoed", [False, True], ids=["plain refusal", "password echoed"])
def test_a_refused_login_fails_the_batch_and_never_repeats_the_password(
    mail_sink_with_login, monkeypatch, caplog, echoed
):
    mail_sink_with_login.echo_password = echoed
    wrong = "wrong-Pa55-3f9a"
    monkeypatch.setenv("CALSYNC_TEST_SMTP_PASSWORD", wrong)
    settings = smtp(
        mail_sink_with_login.port, username="calsync", password_env="CALSYNC_TEST_SMTP_PASSWORD"
    )
    with caplog.at_level(logging.DEBUG, logger="calsync"):
        report = send_notices(settings, [notice("anna@example.com"), notice("ben@example.com")])
    assert set(mail_sink_with_login.logins) == {("calsync", wrong)}  # the server was asked
    assert mail_sink_with_login.received == []
    assert len(report.failed) == 2
    for failed in report.failed:
        assert "refused the login of calsync: 535" in failed.reason
        assert ("<hidden> is wrong" in failed.reason) == echoed
    said = " ".join(
        [f.reason for f in report.failed]
        + [r.getMessage() for r in caplog.records if r.name.startswith("calsync")]
    )
    assert "not sent" in said
    assert wrong not in said


def test_a_password_that_cannot_be_had_fails_the_batch_naming_where_it_was_looked_for(
    mail_sink, monkeypatch
):
    monkeypatch.delenv("CALSYNC_TEST_SMTP_PASSWORD", raising=False)
    settings = smtp(mail_sink.port, username="calsync", password_env="CALSYNC_TEST_SMTP_PASSWORD")
    [failed] = send_notices(settings, [notice("anna@example.com")]).failed
    assert "environment variable CALSYNC_TEST_SMTP_PASSWORD" in failed.reason
    assert mail_sink.received == []


@pytest.mark.parametrize("count", [0, 25])
def test_a_batch_goes_over_one_connection(mail_sink, count):
    notices = [notice(f"person{n}@example.com", f"r-{n}") for n in range(count)]
    report = send_notices(smtp(mail_sink.port), notices)
    assert len(report.sent) == count
    assert len(mail_sink.received) == count


def test_over_tls_the_server_is_verified_against_the_ca_file(tls_mail_sink, certificates):
    sink, how = tls_mail_sink
    settings = smtp(sink.port, **{how: True, "ca_file": str(certificates.ca_file)})
    report = send_notices(settings, [notice("anna@example.com")])
    assert report.failed == ()
    assert [r.recipients for r in sink.received] == [["anna@example.com"]]


def test_over_tls_a_server_whose_certificate_is_not_trusted_is_not_sent_to(tls_mail_sink):
    sink, how = tls_mail_sink
    report = send_notices(smtp(sink.port, **{how: True}), [notice("anna@example.com")])
    [failed] = report.failed
    assert f"mail server 127.0.0.1:{sink.port}: its TLS certificate is not trusted" in (
        failed.reason
    )
    assert sink.received == []
