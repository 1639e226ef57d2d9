"""Telling approvers: `notify_approvers(services)`, run by the worker's loop.

Requests not yet seen are mailed at once (unless `[smtp]` sends digests); then every
recipient due a digest gets one of the waiting requests not yet told to them (with
`digest_minutes = 0`, this catches up on mails that failed). Who was told of which
booking is kept (`approval_notices`), so nobody is told twice and a failed mail is sent
again on the next turn. Without `[smtp]`, nothing is sent.
"""

from __future__ import annotations

from dataclasses import replace

from calsync.bootstrap import Services
from calsync.domain.approvals import ApprovalState
from calsync.domain.bookings import Booking
from calsync.domain.notices import ApprovalRequested
from calsync.notify.approvers import flush_digests, tell_approvers
from calsync.notify.mail import NoticeReport
from calsync.store.approvals import ApprovalFilter, StoredApproval
from calsync.store.unit_of_work import UnitOfWork


def notify_approvers(services: Services, limit: int = 500) -> NoticeReport:
    settings = services.settings
    if settings.smtp is None:
        return NoticeReport()
    now = services.clock()
    with services.read() as uow:
        waiting = uow.approvals.find(ApprovalFilter(ApprovalState.pending, limit=limit))
        requests = {s.id: _requested(uow, s) for s in waiting}
        told = uow.approvals.told([s.approval.reservation for s in waiting])
        last_sent = uow.approvals.last_sent()
    fresh = [s for s in waiting if s.notified_at is None]
    report = tell_approvers(settings, [requests[s.id] for s in fresh])
    told |= report.told()
    report += flush_digests(
        settings, list(requests.values()), told=told, last_sent=last_sent, now=now
    )
    with services.uow() as uow:
        uow.approvals.record_told(report.told(), now)
        uow.approvals.mark_notified([s.id for s in fresh], now)
        uow.commit()
    return report


def _requested(uow: UnitOfWork, stored: StoredApproval) -> ApprovalRequested:
    reservation = uow.reservations.get(stored.approval.reservation)
    item = uow.items.by_id(stored.item_id).item
    booking = Booking.of(item, reservation.start, reservation.end, reservation.organizer)
    asked = ApprovalRequested.of(
        stored.approval, booking, reservation.subject, stored.requested_because
    )
    return replace(asked, approval_id=stored.id)
