"""Approvals in the store: `ApprovalRepository` (`uow.approvals`).

A request is written with the reservation that waits for it (`request_many`, in the
synchronization's transaction). Asked again for the same booking, a pending request of
the same rule and performer stands (`Approval.keeps`); another replaces it, the old one
`withdrawn`. A decision is written only over a request still pending (`settle`, one
conditional UPDATE): of two approvers clicking at once, one decides and the other is
told it was decided. At most one request per reservation is pending (the partial unique
index `uq_approvals_one_pending`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from calsync.domain.approvals import Approval, ApprovalState, Group, Performer, Person, Role
from calsync.errors import NotFound
from calsync.store.tables import ApprovalNoticeRow, ApprovalRow, ReservationRow

_KINDS: dict[str, type[Person] | type[Group] | type[Role]] = {
    "person": Person,
    "group": Group,
    "role": Role,
}


def performer_text(performer: Performer) -> str:
    """`person:<address>`, `group:<name>` or `role:<name>`."""
    if isinstance(performer, Person):
        return f"person:{performer.address.lower()}"
    kind = "group" if isinstance(performer, Group) else "role"
    return f"{kind}:{performer.name}"


def performer_of(text: str) -> Performer:
    kind, _, name = text.partition(":")
    return _KINDS[kind](name)


@dataclass(frozen=True)
class StoredApproval:
    id: int
    item_id: int
    approval: Approval
    #: Why it was asked for: the rule's criteria met, the policy rules broken.
    requested_because: str
    notified_at: datetime | None

    @classmethod
    def of(cls, row: ApprovalRow) -> StoredApproval:
        approval = Approval(
            reservation=row.reservation_id,
            rule=row.rule,
            performer=performer_of(row.performer),
            requested_at=row.requested_at,
            expires_at=row.expires_at,
            state=ApprovalState(row.state),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            reason=row.reason,
        )
        return cls(row.id, row.item_id, approval, row.requested_because, row.notified_at)


@dataclass(frozen=True)
class ApprovalFilter:
    state: ApprovalState | None = None
    item_id: int | None = None
    reservation_id: str | None = None
    #: Only ids above this one (the last of the previous page).
    after_id: int = 0
    limit: int = 100


class ApprovalRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, approval_id: int) -> StoredApproval:
        row = self.session.get(ApprovalRow, approval_id, populate_existing=True)
        if row is None:
            raise NotFound(f"no approval {approval_id}")
        return StoredApproval.of(row)

    def pending_of(self, reservation_ids: Collection[str]) -> dict[str, StoredApproval]:
        if not reservation_ids:
            return {}
        rows = self.session.scalars(
            select(ApprovalRow).where(
                ApprovalRow.reservation_id.in_(list(reservation_ids)),
                ApprovalRow.state == ApprovalState.pending.value,
            )
        )
        return {row.reservation_id: StoredApproval.of(row) for row in rows}

    def request_many(
        self, item_id: int, requests: Sequence[tuple[Approval, str]], now: datetime
    ) -> list[int]:
        """Write the requests (each with why it was asked for) that no pending one keeps;
        the ids of those written."""
        waiting = self.pending_of([approval.reservation for approval, _ in requests])
        rows = []
        for approval, because in requests:
            current = waiting.get(approval.reservation)
            if current is not None and current.approval.keeps(approval):
                continue
            if current is not None:
                why = f"asked again under rule {approval.rule!r}"
                self._withdraw_ids([current.id], why, now)
            rows.append(
                ApprovalRow(
                    reservation_id=approval.reservation,
                    item_id=item_id,
                    rule=approval.rule,
                    performer=performer_text(approval.performer),
                    requested_because=because,
                    state=ApprovalState.pending.value,
                    requested_at=approval.requested_at,
                    expires_at=approval.expires_at,
                    decided_by="",
                    reason="",
                )
            )
        self.session.add_all(rows)
        self.session.flush()
        return [row.id for row in rows]

    def withdraw_unless_waiting(
        self, reservation_ids: Collection[str], reason: str, now: datetime
    ) -> int:
        """Withdraw the pending requests of those reservations that no longer wait for
        approval (cancelled, declined, confirmed by a rule's change); how many."""
        if not reservation_ids:
            return 0
        still_waiting = select(ReservationRow.id).where(
            ReservationRow.id.in_(list(reservation_ids)),
            ReservationRow.status == "pending_approval",
        )
        statement = (
            update(ApprovalRow)
            .where(
                ApprovalRow.reservation_id.in_(list(reservation_ids)),
                ApprovalRow.state == ApprovalState.pending.value,
                ApprovalRow.reservation_id.not_in(still_waiting),
            )
            .values(state=ApprovalState.withdrawn.value, decided_at=now, reason=reason)
            .execution_options(synchronize_session=False)
        )
        return int(self.session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]

    def settle(self, approval_id: int, decided: Approval) -> bool:
        """Write the decision if the request is still pending; False if someone else (or
        the expiry) decided it first."""
        statement = (
            update(ApprovalRow)
            .where(ApprovalRow.id == approval_id, ApprovalRow.state == ApprovalState.pending.value)
            .values(
                state=decided.state.value,
                decided_by=decided.decided_by,
                decided_at=decided.decided_at,
                reason=decided.reason,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(statement).rowcount)  # type: ignore[attr-defined]

    def due(self, now: datetime, limit: int = 500) -> list[StoredApproval]:
        """Pending requests whose time ran out, oldest first."""
        rows = self.session.scalars(
            select(ApprovalRow)
            .where(
                ApprovalRow.state == ApprovalState.pending.value,
                ApprovalRow.expires_at <= now,
            )
            .order_by(ApprovalRow.expires_at, ApprovalRow.id)
            .limit(limit)
        )
        return [StoredApproval.of(row) for row in rows]

    def find(self, where: ApprovalFilter) -> list[StoredApproval]:
        query = select(ApprovalRow).where(ApprovalRow.id > where.after_id)
        if where.state is not None:
            query = query.where(ApprovalRow.state == where.state.value)
        if where.item_id is not None:
            query = query.where(ApprovalRow.item_id == where.item_id)
        if where.reservation_id is not None:
            query = query.where(ApprovalRow.reservation_id == where.reservation_id)
        rows = self.session.scalars(query.order_by(ApprovalRow.id).limit(where.limit))
        return [StoredApproval.of(row) for row in rows]

    def unnotified(self, limit: int = 200) -> list[StoredApproval]:
        """Pending requests whose performers were not told yet, oldest first."""
        rows = self.session.scalars(
            select(ApprovalRow)
            .where(
                ApprovalRow.state == ApprovalState.pending.value,
                ApprovalRow.notified_at.is_(None),
            )
            .order_by(ApprovalRow.id)
            .limit(limit)
        )
        return [StoredApproval.of(row) for row in rows]

    def mark_notified(self, approval_ids: Collection[int], now: datetime) -> None:
        if approval_ids:
            self.session.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id.in_(list(approval_ids)))
                .values(notified_at=now)
                .execution_options(synchronize_session=False)
            )

    def _withdraw_ids(self, approval_ids: list[int], reason: str, now: datetime) -> None:
        self.session.execute(
            update(ApprovalRow)
            .where(
                ApprovalRow.id.in_(approval_ids), ApprovalRow.state == ApprovalState.pending.value
            )
            .values(state=ApprovalState.withdrawn.value, decided_at=now, reason=reason)
            .execution_options(synchronize_session=False)
        )

    # --- who was told ---------------------------------------------------------------------

    def told(self, reservation_ids: Collection[str]) -> set[tuple[str, str]]:
        """The (reservation, recipient) pairs told of these reservations."""
        if not reservation_ids:
            return set()
        rows = self.session.execute(
            select(ApprovalNoticeRow.reservation_id, ApprovalNoticeRow.recipient).where(
                ApprovalNoticeRow.reservation_id.in_(list(reservation_ids))
            )
        )
        return {(reservation, recipient) for reservation, recipient in rows}

    def last_sent(self) -> dict[str, datetime]:
        """Each recipient's last mail."""
        rows = self.session.execute(
            select(ApprovalNoticeRow.recipient, func.max(ApprovalNoticeRow.sent_at)).group_by(
                ApprovalNoticeRow.recipient
            )
        )
        return {str(recipient): sent for recipient, sent in rows}

    def record_told(self, pairs: Collection[tuple[str, str]], now: datetime) -> None:
        known = self.told({reservation for reservation, _ in pairs})
        self.session.add_all(
            ApprovalNoticeRow(reservation_id=reservation, recipient=recipient, sent_at=now)
            for reservation, recipient in set(pairs) - known
        )
