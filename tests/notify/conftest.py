"""A real mail server for the notification tests: aiosmtpd on a loopback port, keeping
every message it accepts, refusing the recipients a test names, checking a login when a
test asks for one, and speaking TLS with a certificate of a CA made for the tests."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


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
    #: Hang up when asked to take a message after this many (None: never).
    hang_up_after: int | None = None

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hang_up_after is not None and len(self.received) >= self.hang_up_after:
            server.transport.close()
            return "421 4.3.2 shutting down"
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


@contextmanager
def serving(sink: MailSink, **options) -> Iterator[MailSink]:
    """`sink` answering on its loopback port while in the block; `options` are
    aiosmtpd's (TLS, login, SMTPUTF8)."""
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port, **options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    """An SMTP server on a loopback port, without a login."""
    with serving(MailSink()) as sink:
        yield sink


@pytest.fixture
def mail_sink_with_login() -> Iterator[MailSink]:
    """An SMTP server on a loopback port that asks for the login `calsync` / `letmein-77`
    (in the clear: a loopback host)."""
    sink = MailSink(login=("calsync", "letmein-77"))
    options = {"auth_require_tls": False, "auth_required": True}
    with serving(sink, authenticator=sink.authenticate, **options):
        yield sink


@dataclass
class Certificates:
    """A CA (`ca_file`, PEM) and a server certificate it signed for 127.0.0.1 and
    localhost, loaded in `server` (a TLS context for the sink)."""

    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calsync test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain)
    return Certificates(ca_file, server)


@pytest.fixture(params=["starttls", "ssl"])
def tls_mail_sink(request, certificates) -> Iterator[tuple[MailSink, str]]:
    """An SMTP server on a loopback port speaking TLS with a certificate of the test CA:
    after STARTTLS (which it requires) or from the first byte; and which of the two."""
    if request.param == "starttls":
        options = {"tls_context": certificates.server, "require_starttls": True}
    else:
        options = {"ssl_context": certificates.server}
    with serving(MailSink(), **options) as sink:
        yield sink, request.param
