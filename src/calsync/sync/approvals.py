"""Deciding approvals: `decide_approvals(services, ids, who, approve, reason)` and
`expire_due(services)`.

A decision is made under the item's writer lock and written only over a request still
pending (`ApprovalRepository.settle`): of two approvers clicking at once, one decides and
the other gets `ApprovalDecided`, saying who decided when. In the same transaction the
reservation becomes `confirmed` or `declined` (freeing the span) and a `respond` event
queues the room's answer to the organizer: what the room now says of the whole calendar
object (ACCEPTED once an occurrence is confirmed, the rejected occurrences of a series
declined one by one; DECLINED when none is left). The event keeps the decision (which
approval, who, why) beside the request and the response, for the audit.

`whole_series`: the decision also covers every other pending request of the series (the
same calendar object), approved or rejected as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from calsync.bootstrap import Services
from calsync.domain.approvals import ADMIN, Approval, ApprovalState, Identity, both_sides
from calsync.domain.decide import room_answer
from calsync.domain.events import Action
from calsync.domain.reservations import Reservation, ReservationStatus
from calsync.errors import ApprovalDecided, NotAPerformer
from calsync.store.approvals import StoredApproval
from calsync.store.unit_of_work import UnitOfWork
from calsync.sync.respond import respond_payload


@dataclass(frozen=True)
class Decision:
    """What a decision did: the approvals decided, the reservations they settled, and the
    respond events queued for the organizers' calendars."""

    approvals: tuple[StoredApproval, ...]
    reservations: tuple[Reservation, ...]
    events: tuple[int, ...] = ()


@dataclass
class Expiry:
    expired: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)


def decide_approvals(
    services: Services,
    approval_ids: Sequence[int],
    who: Identity,
    approve: bool,
    reason: str = "",
    whole_series: bool = False,
) -> Decision:
    now, groups = services.clock(), services.settings.group_members()
    with services.uow() as uow:
        first = uow.approvals.get(approval_ids[0])
        uow.reservations.lock_item(first.item_id)
        wanted = _with_series(uow, approval_ids, whole_series)
        decided: list[tuple[StoredApproval, Approval]] = []
        for stored in wanted:
            reservation = uow.reservations.get(stored.approval.reservation)
            _refuse_own_booking(who, reservation, stored)
            decide = stored.approval.approve if approve else stored.approval.reject
            decided.append((stored, decide(who, groups, now, reason)))
        decision = _settle(uow, decided, now)
        uow.commit()
    return decision


def expire_due(services: Services, limit: int = 500) -> Expiry:
    """Decline the bookings whose approval ran out of time, each with the reason."""
    now, done = services.clock(), Expiry()
    with services.read() as uow:
        due = uow.approvals.due(now, limit)
    for item_id in sorted({stored.item_id for stored in due}):
        with services.uow() as uow:
            uow.reservations.lock_item(item_id)
            still = [s for s in uow.approvals.due(now, limit) if s.item_id == item_id]
            decision = _settle(uow, [(s, s.approval.expire(now)) for s in still], now)
            uow.commit()
        done.expired.extend(stored.id for stored in decision.approvals)
        done.events.extend(decision.events)
    return done


def _with_series(
    uow: UnitOfWork, approval_ids: Sequence[int], whole_series: bool
) -> list[StoredApproval]:
    wanted = {approval_id: uow.approvals.get(approval_id) for approval_id in approval_ids}
    if not whole_series:
        return list(wanted.values())
    for stored in list(wanted.values()):
        reservation = uow.reservations.get(stored.approval.reservation)
        if reservation.provider_id is None:
            continue
        siblings = uow.reservations.of_provider_id(stored.item_id, reservation.provider_id)
        waiting = uow.approvals.pending_of([r.id for r in siblings if r.uid == reservation.uid])
        wanted.update({s.id: s for s in waiting.values()})
    return sorted(wanted.values(), key=lambda s: s.id)


def _refuse_own_booking(who: Identity, reservation: Reservation, stored: StoredApproval) -> None:
    address = who.address.lower()
    if address and address == reservation.organizer.lower() and ADMIN not in who.roles:
        raise NotAPerformer(
            f"{address} organized reservation {reservation.id}: an organizer does not "
            f"decide the approval of their own booking (approval {stored.id})"
        )


def _settle(
    uow: UnitOfWork, decided: Sequence[tuple[StoredApproval, Approval]], now: datetime
) -> Decision:
    """Write each decision over its pending request, the reservations it settles and the
    room's answers, one per calendar object."""
    settled, reservations = [], []
    for stored, approval in decided:
        if not uow.approvals.settle(stored.id, approval):
            raise ApprovalDecided(_decided_meanwhile(uow, stored.id))
        reservation = uow.reservations.get(approval.reservation)
        if reservation.status != ReservationStatus.pending_approval:
            raise ApprovalDecided(
                f"reservation {reservation.id} no longer waits for approval "
                f"({reservation.status.value}): approval {stored.id} was not decided"
            )
        why = "" if approval.state == ApprovalState.approved else approval.reason
        # Where the room's calendar approves too, approved here is confirmed only once
        # the room approved as well (`awaiting_confirmation` until then).
        status, why = both_sides(approval.reservation_status, why, reservation.provider_approval)
        now_is = replace(reservation, status=status, reason=why)
        uow.reservations.update_many([now_is], now, [reservation])
        settled.append(replace(stored, approval=approval))
        reservations.append(now_is)
    events = [
        _answer(uow, group, now)
        for group in _by_object(list(zip(settled, reservations, strict=True)))
    ]
    return Decision(tuple(settled), tuple(reservations), tuple(e for e in events if e))


def _decided_meanwhile(uow: UnitOfWork, approval_id: int) -> str:
    uow.session.expire_all()
    stored = uow.approvals.get(approval_id)
    approval = stored.approval
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    when = approval.decided_at.isoformat() if approval.decided_at else "meanwhile"
    return f"approval {approval_id} was already {approval.state.value}{by} at {when}"


def _by_object(
    settled: list[tuple[StoredApproval, Reservation]],
) -> list[list[tuple[StoredApproval, Reservation]]]:
    groups: dict[tuple[int, str | None, str], list[tuple[StoredApproval, Reservation]]] = {}
    for stored, reservation in settled:
        key = (stored.item_id, reservation.provider_id, reservation.uid)
        groups.setdefault(key, []).append((stored, reservation))
    return list(groups.values())


def _answer(
    uow: UnitOfWork, group: list[tuple[StoredApproval, Reservation]], now: datetime
) -> int | None:
    """The room's answer for one calendar object after the decisions: a respond event."""
    stored, reservation = group[0]
    item = uow.items.by_id(stored.item_id)
    binding = item.item.binding
    if binding is None or not binding.room_address or reservation.provider_id is None:
        return None
    mirrors = [
        r
        for r in uow.reservations.of_provider_id(stored.item_id, reservation.provider_id)
        if r.uid == reservation.uid
    ]
    recurring = any(r.recurrence_id is not None for r in mirrors)
    partstat, declines = room_answer([(r.recurrence_id, r.status) for r in mirrors], recurring)
    if partstat is None or (binding.room_approves and partstat != "DECLINED"):
        # Where the room approves itself, calsync answers only to free it (a rejection).
        return None
    payload = respond_payload(
        item.item.name, reservation.provider_id, binding.room_address, partstat, declines
    )
    payload["decision"] = [
        {
            "approval": s.id,
            "reservation": r.id,
            "state": s.approval.state.value,
            "decided_by": s.approval.decided_by,
            "decided_at": s.approval.decided_at.isoformat() if s.approval.decided_at else None,
            "reason": s.approval.reason,
        }
        for s, r in group
    ]
    event = uow.events.add(stored.item_id, Action.respond, now, payload, reservation.id)
    return event.id
