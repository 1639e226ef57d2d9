"""Telling approvers of the bookings waiting for their decision.

- `plan_notices(settings, waiting, told=..., last_sent=..., now=...)`: what to mail now
  of the requests still waiting: one mail per request and recipient not yet told, or,
  with `digest_minutes`, one digest per recipient due one (at most one every
  `digest_minutes`); nothing without an `[smtp]` section.
- `send_plan(settings, plan)`: mails it, and returns a `NoticeReport`: what was sent to
  whom (its `told()` pairs are kept by `calsync.sync.approval_notices`, with the time of
  each recipient's last digest) and what failed and why, a request whose performer has
  nobody to write to included. Nothing is retried here: a notice that failed is planned
  again by the next round.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta

from calsync.config import Settings
from calsync.domain.notices import ApprovalRequested, NoticePlan, digest_notices, notices_for
from calsync.notify.mail import Failed, NoticeReport, send_notices


def plan_notices(
    settings: Settings,
    waiting: Iterable[ApprovalRequested],
    *,
    told: Collection[tuple[str, str]],
    last_sent: Mapping[str, datetime],
    now: datetime,
) -> NoticePlan:
    """What to mail now of the waiting requests, none told twice (`told`: (reservation,
    recipient) pairs): one mail per request and recipient, or with `digest_minutes` one
    digest per recipient due one."""
    smtp = settings.smtp
    if smtp is None:
        return NoticePlan()
    book = settings.address_book()
    if smtp.digest:
        every = timedelta(minutes=smtp.digest_minutes)
        return digest_notices(
            waiting,
            book,
            told=told,
            last_sent=last_sent,
            now=now,
            every=every,
            decide_url=smtp.public_url,
        )
    live = [request for request in waiting if request.expires_at > now]
    plan = notices_for(live, book, smtp.public_url)
    untold = tuple(
        notice
        for notice in plan.notices
        if any((r, notice.recipient) not in told for r in notice.reservations)
    )
    return NoticePlan(untold, plan.unaddressed)


def send_plan(settings: Settings, plan: NoticePlan) -> NoticeReport:
    """Mail the plan's notices; the requests with nobody to tell are reported failed."""
    return _send(settings, plan)


def _send(settings: Settings, plan: NoticePlan) -> NoticeReport:
    assert settings.smtp is not None
    nobody = tuple(Failed("", (u.reservation,), u.reason) for u in plan.unaddressed)
    return NoticeReport(failed=nobody) + send_notices(settings.smtp, plan.notices)
