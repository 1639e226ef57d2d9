"""A real mail server for the notification tests: aiosmtpd on a loopback port, keeping
every message it accepts, refusing the recipients a test names, and checking a login
when a test asks for one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Received:
    """One message as the server took it: the envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class MailSink:
    """What the server accepted (`received`), whom it refuses (`refuse`), the login it
    takes (`login`, None: no login offered) and the logins it was given (`logins`)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    login: tuple[str, str] | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)
    #: Refuse a login with a reply repeating the password, as a careless server might.
    echo_password: bool = False

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(given)
        if given != self.login and self.echo_password:
            return AuthResult(success=False, handled=False, message=f"535 {given[1]} is wrong")
        return AuthResult(success=given == self.login, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    """An SMTP server on a loopback port, without a login."""
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def mail_sink_with_login() -> Iterator[MailSink]:
    """An SMTP server on a loopback port that asks for the login `calsync` / `letmein-77`
    (in the clear: a loopback host)."""
    sink = MailSink(port=free_port(), login=("calsync", "letmein-77"))
    controller = Controller(
        sink,
        hostname=sink.host,
        port=sink.port,
        authenticator=sink.authenticate,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
