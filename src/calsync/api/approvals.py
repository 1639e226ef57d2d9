"""`/api/v1/approvals`: list, show, approve, reject.

An approver's token carries its performer address: it lists and decides only the
approvals it is a performer for (the person named, a member of the group named, or the
approver role); an admin lists and decides all (audited under its token's address, or
its key when it has none); a viewer may look. A decision is made as `calsync approvals`
makes it (`calsync.sync.approvals`): of two at once one decides, the other gets 409
saying who decided; a caller who is not the performer gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from calsync.api.auth import Caller, allow
from calsync.api.pagination import CursorQuery, LimitQuery, Page, last_id, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import Approval
from calsync.domain.access import Permission
from calsync.domain.approvals import ApprovalState, Identity, may_decide
from calsync.exports import approval_json
from calsync.store.approvals import ApprovalFilter, StoredApproval
from calsync.sync.approvals import decide_approvals

router = APIRouter(prefix="/approvals", tags=["approvals"])
ApprovalId = Annotated[int, Path(description="The approval's id.", ge=1, le=2**62)]
_LIST = "approvals"


class Decision(BaseModel):
    reason: str = Field("", max_length=2000, description="Why: shown to the organizer.")
    whole_series: bool = Field(
        False, description="Decide every waiting occurrence of the same series too."
    )


_NO_REASON = Decision(reason="", whole_series=False)


def identity(who: Caller) -> Identity:
    return Identity((who.performer or f"token:{who.key}").lower(), frozenset({who.role.value}))


@router.get("", response_model=Page[Approval])
def list_approvals(
    services: ServicesDep,
    who: Annotated[Caller, Depends(allow(Permission.read, Permission.decide))],
    state: Annotated[ApprovalState | None, Query()] = ApprovalState.pending,
    item: Annotated[str | None, Query(description="Only this item's.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Any:
    """Approvals, oldest first; an approver sees those it may decide."""
    after = last_id(_LIST, cursor) or 0
    groups = services.settings.group_members()
    deciding_only = not _sees_all(who)
    shown: list[StoredApproval] = []
    with services.read() as uow:
        item_id = uow.items.get(item).id if item is not None else None
        while len(shown) <= limit:
            batch = uow.approvals.find(ApprovalFilter(state, item_id, None, after, limit + 1))
            if not batch:
                break
            after = batch[-1].id
            shown.extend(
                s
                for s in batch
                if not deciding_only or may_decide(identity(who), s.approval, groups)
            )
        rows = [(s, uow.reservations.get(s.approval.reservation)) for s in shown[: limit + 1]]
    return page(_LIST, rows, limit, lambda row: [row[0].id], lambda row: approval_json(*row))


@router.get("/{approval_id}", response_model=Approval)
def show_approval(
    approval_id: ApprovalId,
    services: ServicesDep,
    who: Annotated[Caller, Depends(allow(Permission.read, Permission.decide))],
) -> Any:
    with services.read() as uow:
        stored = uow.approvals.get(approval_id)
        _visible(services, who, stored)
        return approval_json(stored, uow.reservations.get(stored.approval.reservation))


@router.post("/{approval_id}/approve", response_model=list[Approval])
def approve(
    approval_id: ApprovalId,
    services: ServicesDep,
    who: Annotated[Caller, Depends(allow(Permission.decide))],
    body: Decision | None = None,
) -> Any:
    """Confirm the booking; the room accepts it in the organizer's calendar."""
    return _decide(
        services, who, approval_id, True, body or Decision(reason="", whole_series=False)
    )


@router.post("/{approval_id}/reject", response_model=list[Approval])
def reject(
    approval_id: ApprovalId,
    services: ServicesDep,
    who: Annotated[Caller, Depends(allow(Permission.decide))],
    body: Decision | None = None,
) -> Any:
    """Decline the booking with the reason; the room declines it in the calendar."""
    return _decide(
        services, who, approval_id, False, body or Decision(reason="", whole_series=False)
    )


def _decide(
    services: ServicesDep, who: Caller, approval_id: int, approve: bool, body: Decision
) -> list[dict[str, Any]]:
    decision = decide_approvals(
        services, [approval_id], identity(who), approve, body.reason, body.whole_series
    )
    settled = zip(decision.approvals, decision.reservations, strict=True)
    return [approval_json(s, r) for s, r in settled]


def _sees_all(who: Caller) -> bool:
    return who.role.value in ("admin", "viewer")


def _visible(services: ServicesDep, who: Caller, stored: StoredApproval) -> None:
    """An approver sees only what it may decide: another's approval is not found."""
    from calsync.errors import NotFound

    groups = services.settings.group_members()
    if not _sees_all(who) and not may_decide(identity(who), stored.approval, groups):
        raise NotFound(f"no approval {stored.id} for this caller")
