"""Telling approvers: `notify_approvers(services)`, run by the worker's loop.

Each turn plans what to mail of the requests waiting (one mail per request and recipient,
or with `digest_minutes` one digest per recipient due one), none told twice; claims each
(request, recipient) pair in the store before the mail goes (`approval_notices`, its
unique key the claim: two workers never mail the same request to the same recipient);
sends; and gives back the pairs whose mail failed, to be sent on a later turn. A worker
killed between claiming and sending loses those mails (told at most once: a request
still shows in `calsync approvals list` and the API). Without `[smtp]`, nothing is sent.
"""

from __future__ import annotations

from dataclasses import replace

from calsync.bootstrap import Services
from calsync.domain.approvals import ApprovalState
from calsync.domain.bookings import Booking
from calsync.domain.notices import ApprovalRequested, NoticePlan
from calsync.notify.approvers import plan_notices, send_plan
from calsync.notify.mail import NoticeReport
from calsync.store.approvals import ApprovalFilter, StoredApproval
from calsync.store.unit_of_work import UnitOfWork


def notify_approvers(services: Services, limit: int = 500) -> NoticeReport:
    settings = services.settings
    if settings.smtp is None:
        return NoticeReport()
    now = services.clock()
    with services.read() as uow:
        waiting = _waiting(uow, limit)
        requests = [_requested(uow, s) for s in waiting]
        approval_of = {s.approval.reservation: s.id for s in waiting}
        reservation_of = {s.id: s.approval.reservation for s in waiting}
        told = {(reservation_of[a], to) for a, to in uow.approvals.told(list(reservation_of))}
        last_sent = uow.approvals.last_sent()
    plan = plan_notices(settings, requests, told=told, last_sent=last_sent, now=now)
    with services.uow() as uow:
        wanted = {n: {(approval_of[r], n.recipient) for r in n.reservations} for n in plan.notices}
        claimed = uow.approvals.claim_told(set().union(*wanted.values()), now)
        uow.approvals.mark_notified([s.id for s in waiting if s.notified_at is None], now)
        uow.commit()
    mine = tuple(n for n in plan.notices if wanted[n] <= claimed)
    report = send_plan(settings, NoticePlan(mine, plan.unaddressed))
    failed = {
        (approval_of[r], f.recipient) for f in report.failed if f.recipient for r in f.reservations
    }
    unsent = (claimed & failed) | set().union(*(wanted[n] for n in plan.notices if n not in mine))
    if unsent & claimed:
        with services.uow() as uow:
            uow.approvals.forget_told(unsent & claimed)
            uow.commit()
    return report


def _waiting(uow: UnitOfWork, limit: int) -> list[StoredApproval]:
    """The pending requests: those not yet seen first, then the oldest."""
    fresh = uow.approvals.unnotified(limit)
    rest = uow.approvals.find(ApprovalFilter(ApprovalState.pending, limit=limit))
    seen = {s.id for s in fresh}
    return fresh + [s for s in rest if s.id not in seen][: max(0, limit - len(fresh))]


def _requested(uow: UnitOfWork, stored: StoredApproval) -> ApprovalRequested:
    reservation = uow.reservations.get(stored.approval.reservation)
    item = uow.items.by_id(stored.item_id).item
    booking = Booking.of(item, reservation.start, reservation.end, reservation.organizer)
    asked = ApprovalRequested.of(
        stored.approval, booking, reservation.subject, stored.requested_because
    )
    return replace(asked, approval_id=stored.id)
