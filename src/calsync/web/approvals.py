"""The approvals page: the bookings waiting for a decision that the visitor may make
(`calsync.domain.approvals.may_decide`: an approver sees only those it is a performer
for, by its token's performer address; an admin sees all), oldest first, each with its
booking, the rule that asked and why; Approve or Reject with a reason, for the one
occurrence or the whole series. Deciding is `calsync.sync.approvals.decide_approvals`,
as on the command line: the reservation is confirmed or declined and the room's answer
is queued for the organizer's calendar.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from calsync.api.pagination import encode, last_id
from calsync.api.services import ServicesDep
from calsync.bootstrap import Services
from calsync.domain.access import Permission
from calsync.domain.approvals import ApprovalState, may_decide
from calsync.errors import ApprovalDecided
from calsync.exports import approval_json
from calsync.store.approvals import ApprovalFilter
from calsync.sync.approvals import decide_approvals
from calsync.web.app import PageRoute, Visitor, form_for, page_for, render
from calsync.web.exchange_log import chosen
from calsync.web.session import PATH

router = APIRouter(prefix=PATH, route_class=PageRoute, include_in_schema=False)
#: As `GET /api/v1/approvals`: a viewer looks, an approver sees what it may decide.
Looker = Annotated[Visitor, Depends(page_for(Permission.read, Permission.decide))]
DecidingForm = Annotated[Visitor, Depends(form_for(Permission.decide))]
PAGE = 25
#: Approvals read per query while looking for those the visitor may decide.
_BATCH = 200
_BATCHES = 10
_LIST = "approvals"


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(
    request: Request,
    services: ServicesDep,
    who: Looker,
    state: str = "pending",
    cursor: str | None = None,
    done: str = "",
) -> Response:
    wanted = None if state == "all" else chosen(ApprovalState, state, "state")
    shown, following = visible(services, who, wanted, last_id(_LIST, cursor) or 0)
    return render(
        request,
        "approvals.html",
        who,
        approvals=shown,
        wanted_state=state,
        states=list(ApprovalState),
        next_cursor=encode(_LIST, [following]) if following else None,
        done=done,
    )


def visible(
    services: Services, who: Visitor, state: ApprovalState | None, after: int
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the approvals `who` may decide after id `after`, and the id the next
    page starts after (None on the last)."""
    groups = services.settings.group_members()
    sees_all = who.may(Permission.read)  # an admin or a viewer, as the API's list
    shown: list[dict[str, Any]] = []
    with services.read() as uow:
        for _ in range(_BATCHES):
            found = uow.approvals.find(ApprovalFilter(state, after_id=after, limit=_BATCH))
            for stored in found:
                after = stored.id
                if sees_all or may_decide(who.identity, stored.approval, groups):
                    reservation = uow.reservations.get(stored.approval.reservation)
                    shown.append(approval_json(stored, reservation))
                    if len(shown) == PAGE:
                        return shown, after
            if len(found) < _BATCH:
                return shown, None
    return shown, after


@router.post("/approvals/{approval_id}/decide")
def decide_page(
    services: ServicesDep,
    who: DecidingForm,
    approval_id: Annotated[int, Path(ge=1)],
    decision: Annotated[Literal["approve", "reject"], Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
    whole_series: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    """Approve or reject; back on the approvals page, a line says what was done."""
    approve = decision == "approve"
    try:
        made = decide_approvals(
            services, [approval_id], who.identity, approve, reason.strip(), whole_series
        )
        verb = "approved" if approve else "rejected"
        done = f"{verb} {', '.join(f'#{s.id}' for s in made.approvals)}"
    except ApprovalDecided as exc:
        done = str(exc)
    return RedirectResponse(f"{PATH}/approvals?done={quote(done, safe='')}", status_code=303)
