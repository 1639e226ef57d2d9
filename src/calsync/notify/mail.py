"""Sending notices by mail (SMTP, RFC 5321) with the standard library's `smtplib`:
`send_notices(smtp, notices) -> NoticeReport`.

One connection carries a batch: `SMTP_SSL` with `ssl`, else `SMTP` upgraded by STARTTLS
with `starttls`; a login when a password is configured; every wait bounded by `timeout`.
Each notice is one message to one recipient. A recipient the server refuses fails that
notice alone, with the server's reason; a server that cannot be reached, refuses the
login or drops the connection fails the notices not yet sent, each with the reason.
Nothing is lost: the report says which were sent and which failed, and the caller
tells the failed ones again later.

The password is never written in a reason or a log line: a server echoing it (or the
encoded login holding it) has it blanked.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from calsync.config_mail import SmtpSettings
from calsync.domain.notices import Notice
from calsync.errors import ConfigError

log = logging.getLogger("calsync.notify")


@dataclass(frozen=True)
class Sent:
    """A notice the server accepted for its recipient."""

    recipient: str
    reservations: tuple[str, ...]


@dataclass(frozen=True)
class Failed:
    """A notice not sent (or a request with nobody to send it to: no recipient), and why."""

    recipient: str
    reservations: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class NoticeReport:
    sent: tuple[Sent, ...] = ()
    failed: tuple[Failed, ...] = ()

    def told(self) -> set[tuple[str, str]]:
        """The (reservation, recipient) pairs now told: not to be told again."""
        return {(r, sent.recipient) for sent in self.sent for r in sent.reservations}

    def __add__(self, other: NoticeReport) -> NoticeReport:
        return NoticeReport(self.sent + other.sent, self.failed + other.failed)


class _BatchBroken(Exception):
    """The connection cannot carry the rest of the batch; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused(Exception):
    """This one message cannot be sent; the connection carries on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def send_notices(smtp: SmtpSettings, notices: Sequence[Notice]) -> NoticeReport:
    """Send each notice over one connection; which were sent, which failed and why."""
    if not notices:
        return NoticeReport()
    try:
        password = smtp.password()
        secrets = _secret_forms(smtp.username, password)
        client = _connect(smtp, password, secrets)
    except ConfigError as error:
        return _all_failed(notices, f"mail not sent: {error}")
    except _BatchBroken as broken:
        return _all_failed(notices, broken.reason)
    try:
        return _send_all(client, smtp, notices, secrets)
    finally:
        _quit(client)


def _send_all(
    client: smtplib.SMTP, smtp: SmtpSettings, notices: Sequence[Notice], secrets: list[str]
) -> NoticeReport:
    sent: list[Sent] = []
    failed: list[Failed] = []
    for index, notice in enumerate(notices):
        try:
            _send(client, smtp, notice, secrets)
        except _BatchBroken as broken:
            failed.extend(_all_failed(notices[index:], broken.reason).failed)
            break
        except _Refused as refused:
            failed.append(_failed(notice, refused.reason))
            continue
        log.info("mail to %s about %s sent", notice.recipient, ", ".join(notice.reservations))
        sent.append(Sent(notice.recipient, notice.reservations))
    return NoticeReport(tuple(sent), tuple(failed))


def _connect(smtp: SmtpSettings, password: str | None, secrets: list[str]) -> smtplib.SMTP:
    where = f"mail server {smtp.host}:{smtp.port_number}"
    context = _tls_context(smtp) if smtp.encrypted else None
    client: smtplib.SMTP | None = None
    try:
        if smtp.ssl:
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port_number, timeout=smtp.timeout, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port_number, timeout=smtp.timeout)
        client.ehlo_or_helo_if_needed()
        if smtp.starttls:
            client.starttls(context=context)
            client.ehlo()
        if password is not None:
            client.login(smtp.username, password)
    except smtplib.SMTPAuthenticationError as error:
        _close(client)
        said = _server_said(error.smtp_code, error.smtp_error, secrets)
        raise _BatchBroken(f"{where} refused the login of {smtp.username}: {said}") from None
    except ssl.SSLCertVerificationError as error:
        _close(client)
        why = error.verify_message or error.reason or "refused"
        raise _BatchBroken(f"{where}: its TLS certificate is not trusted ({why})") from None
    except smtplib.SMTPNotSupportedError as error:
        _close(client)
        raise _BatchBroken(f"{where}: {_redacted(str(error), secrets)}") from None
    except (OSError, smtplib.SMTPException) as error:
        _close(client)
        raise _BatchBroken(f"{where}: {_unreachable(error, smtp, secrets)}") from None
    return client


def _send(client: smtplib.SMTP, smtp: SmtpSettings, notice: Notice, secrets: list[str]) -> None:
    try:
        message = _message(smtp, notice)
    except (ValueError, UnicodeError) as error:
        raise _Refused(f"the message cannot be made: {error}") from None
    try:
        client.send_message(message, smtp.from_address, [notice.recipient])
    except smtplib.SMTPNotSupportedError as error:
        # An address in Unicode to a server without SMTPUTF8, say: this message alone.
        raise _Refused(f"the mail server cannot take it: {error}") from None
    except smtplib.SMTPRecipientsRefused as error:
        code, said = error.recipients.get(notice.recipient, (0, b""))
        reason = f"the mail server refused recipient {notice.recipient}: "
        raise _Refused(reason + _server_said(code, said, secrets)) from None
    except smtplib.SMTPSenderRefused as error:
        why = _server_said(error.smtp_code, error.smtp_error, secrets)
        raise _Refused(f"the mail server refused sender {smtp.from_address}: {why}") from None
    except smtplib.SMTPServerDisconnected as error:
        reason = f"mail server {smtp.host}:{smtp.port_number}"
        raise _BatchBroken(f"{reason}: {_unreachable(error, smtp, secrets)}") from None
    except smtplib.SMTPResponseException as error:
        why = _server_said(error.smtp_code, error.smtp_error, secrets)
        raise _Refused(f"the mail server refused the message: {why}") from None
    except (OSError, smtplib.SMTPException) as error:
        reason = f"mail server {smtp.host}:{smtp.port_number}"
        raise _BatchBroken(f"{reason}: {_unreachable(error, smtp, secrets)}") from None


def _tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """Certificates verified against `ca_file`, else the system's trusted ones; made
    before connecting, so that a `ca_file` that cannot be read fails the batch at once."""
    return ssl.create_default_context(cadata=smtp.trusted_certificates())


def _message(smtp: SmtpSettings, notice: Notice) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.from_address
    message["To"] = notice.recipient
    message["Subject"] = notice.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.from_address.rpartition("@")[2])
    # RFC 3834: automatic replies (out of office) are not sent back to a notice.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(notice.body)
    return message


def _failed(notice: Notice, reason: str) -> Failed:
    log.warning(
        "mail to %s about %s not sent: %s",
        notice.recipient,
        ", ".join(notice.reservations),
        reason,
    )
    return Failed(notice.recipient, notice.reservations, reason)


def _all_failed(notices: Iterable[Notice], reason: str) -> NoticeReport:
    return NoticeReport(failed=tuple(_failed(notice, reason) for notice in notices))


def _unreachable(error: Exception, smtp: SmtpSettings, secrets: list[str]) -> str:
    # smtplib reports a read that timed out as SMTPServerDisconnected, the timeout inside.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        return f"no answer within {smtp.timeout:g} s (timeout)"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"closed the connection ({_redacted(str(error), secrets) or 'no reason given'})"
    if isinstance(error, smtplib.SMTPResponseException):
        return _server_said(error.smtp_code, error.smtp_error, secrets)
    if isinstance(error, OSError) and error.strerror:
        return f"unreachable ({error.strerror})"
    return _redacted(str(error) or type(error).__name__, secrets)


def _server_said(code: int, said: bytes | str, secrets: list[str]) -> str:
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return _redacted(f"{code} {' '.join(text.split())}".strip(), secrets)


def _secret_forms(username: str, password: str | None) -> list[str]:
    """The password as it may be echoed: itself, and inside AUTH PLAIN's and AUTH
    LOGIN's base64."""
    if not password:
        return []
    forms = [password, f"\0{username}\0{password}"]
    encoded = [base64.b64encode(form.encode()).decode() for form in forms]
    return [password, *encoded]


def _redacted(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<hidden>")
    return text


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye; a server gone by then has every message it accepted already."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        _close(client)


def _close(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    with contextlib.suppress(OSError):
        client.close()
