"""Telling approvers of the bookings waiting for their decision.

- `tell_approvers(settings, requests)`: after a new approval request is committed, one
  mail to each of its performer's recipients, unless `[smtp]` sends digests (or is not
  set: then nothing is sent).
- `flush_digests(settings, waiting, told=..., last_sent=..., now=...)`: called by the
  scheduler; one digest mail to each recipient of the requests still waiting that they
  were not told of, at most one per recipient every `digest_minutes`. With 0 minutes it
  catches up on what `tell_approvers` could not send (the server was down, say).

Both return a `NoticeReport`: what was sent to whom (its `told()` pairs are to be kept,
with the time of each recipient's last digest, by whoever keeps the approvals) and what
failed and why, a request whose performer has nobody to write to included. Nothing is
retried here: a notice that failed is told again by the next flush.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta

from calsync.config import Settings
from calsync.domain.notices import ApprovalRequested, NoticePlan, digest_notices, notices_for
from calsync.notify.mail import Failed, NoticeReport, send_notices


def tell_approvers(settings: Settings, requests: Iterable[ApprovalRequested]) -> NoticeReport:
    """One mail per recipient of each new request, sent at once; none in digest mode."""
    smtp = settings.smtp
    if smtp is None or smtp.digest:
        return NoticeReport()
    plan = notices_for(requests, settings.address_book(), smtp.public_url)
    return _send(settings, plan)


def flush_digests(
    settings: Settings,
    waiting: Iterable[ApprovalRequested],
    *,
    told: Collection[tuple[str, str]],
    last_sent: Mapping[str, datetime],
    now: datetime,
) -> NoticeReport:
    """One digest per recipient due one, of the waiting requests not yet told to them
    (`told`: (reservation, recipient) pairs); `last_sent`: each recipient's last digest."""
    smtp = settings.smtp
    if smtp is None:
        return NoticeReport()
    plan = digest_notices(
        waiting,
        settings.address_book(),
        told=told,
        last_sent=last_sent,
        now=now,
        every=timedelta(minutes=smtp.digest_minutes),
        decide_url=smtp.public_url,
    )
    return _send(settings, plan)


def _send(settings: Settings, plan: NoticePlan) -> NoticeReport:
    assert settings.smtp is not None
    nobody = tuple(Failed("", (u.reservation,), u.reason) for u in plan.unaddressed)
    return NoticeReport(failed=nobody) + send_notices(settings.smtp, plan.notices)
