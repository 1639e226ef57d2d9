"""Approvals from the command line: `calsync approvals list|show|approve|reject|expire`.

`--as ADDRESS` (and `--role`, repeatable) says who is acting: `list` then shows only
what that performer may decide, and a decision is recorded under that address. Without
`--as`, `list` shows every approval (an admin at the server's console). A decision
exits 8 when the approval was already decided (nothing changed) and 9 when the caller is
not its performer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from calsync.cli.common import JsonOption, LimitOption, console, errors, open_services, show_rows
from calsync.cli.exit_codes import ExitCode
from calsync.errors import ApprovalDecided, NotAPerformer
from calsync.tables import approvals_table

if TYPE_CHECKING:
    from calsync.bootstrap import Services
    from calsync.domain.approvals import Identity

approvals_app = typer.Typer(
    help="Approvals of bookings that wait for a performer.", no_args_is_help=True
)

AsOption = Annotated[
    str | None, typer.Option("--as", help="The address of who acts (a performer).")
]
RoleOption = Annotated[
    list[str] | None, typer.Option("--role", help="A role the caller holds (repeatable).")
]
IdsArgument = Annotated[
    list[str],
    typer.Argument(help="Approval ids, or the ids of reservations waiting (or a unique part)."),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: shown to the organizer.")]
SeriesOption = Annotated[
    bool,
    typer.Option("--whole-series", help="Decide every waiting occurrence of the series too."),
]


@approvals_app.command("list")
def approvals_list(
    state: Annotated[
        str | None, typer.Option("--state", help="pending, approved, rejected, expired, withdrawn.")
    ] = "pending",
    item: Annotated[str | None, typer.Option("--item")] = None,
    who: AsOption = None,
    roles: RoleOption = None,
    limit: LimitOption = 200,
    as_json: JsonOption = False,
) -> None:
    """List approvals (pending ones by default), oldest first."""
    from calsync.domain.approvals import ApprovalState, may_decide
    from calsync.exports import approval_json
    from calsync.store.approvals import ApprovalFilter

    with errors(), open_services() as services:
        wanted = ApprovalState(state) if state and state != "all" else None
        identity = _identity(who, roles)
        groups = services.settings.group_members()
        with services.read() as uow:
            item_id = uow.items.get(item).id if item else None
            found = uow.approvals.find(ApprovalFilter(wanted, item_id, limit=limit))
            if identity is not None:
                found = [s for s in found if may_decide(identity, s.approval, groups)]
            rows = [approval_json(s, uow.reservations.get(s.approval.reservation)) for s in found]
    show_rows(rows, as_json, approvals_table)


@approvals_app.command("show")
def approvals_show(
    approval_id: Annotated[str, typer.Argument(help="Approval id, or its reservation's.")],
    as_json: JsonOption = False,
) -> None:
    """Show one approval, its booking and its decision."""
    from calsync.exports import approval_json

    with errors(), open_services() as services:
        [found] = _approval_ids(services, [approval_id])
        with services.read() as uow:
            stored = uow.approvals.get(found)
            row = approval_json(stored, uow.reservations.get(stored.approval.reservation))
    if as_json:
        show_rows([row], True, approvals_table, one=True)
        return
    for key, value in row.items():
        if key not in ("schema", "reservation"):
            console.print(f"[bold]{key}[/bold]: {value if value is not None else ''}")
    reservation = row["reservation"]
    console.print(
        f"[bold]booking[/bold]: {reservation['item']} {reservation['start']} to "
        f"{reservation['end']}, {reservation['subject']!r} by {reservation['organizer']} "
        f"({reservation['status']})"
    )


@approvals_app.command("approve")
def approvals_approve(
    approval_ids: IdsArgument,
    who: Annotated[str, typer.Option("--as", help="The address of who approves.")],
    roles: RoleOption = None,
    reason: ReasonOption = "",
    whole_series: SeriesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Approve: the booking is confirmed, and the room accepts it in the organizer's calendar."""
    _decide(approval_ids, who, roles, True, reason, whole_series, as_json)


@approvals_app.command("reject")
def approvals_reject(
    approval_ids: IdsArgument,
    who: Annotated[str, typer.Option("--as", help="The address of who rejects.")],
    roles: RoleOption = None,
    reason: ReasonOption = "",
    whole_series: SeriesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reject: the booking is declined with the reason, and the room declines it."""
    _decide(approval_ids, who, roles, False, reason, whole_series, as_json)


@approvals_app.command("expire")
def approvals_expire(as_json: JsonOption = False) -> None:
    """Decline the bookings whose approval ran out of time (the worker does it on its own;
    for set-ups that run `calsync sync` from cron)."""
    from calsync.cli.common import print_json
    from calsync.sync.approvals import expire_due

    with errors(), open_services() as services:
        expiry = expire_due(services)
    if as_json:
        print_json({"expired": expiry.expired, "events": expiry.events})
    else:
        console.print(f"expired {len(expiry.expired)} approvals")


def _decide(
    approval_ids: list[str],
    who: str,
    roles: list[str] | None,
    approve: bool,
    reason: str,
    whole_series: bool,
    as_json: bool,
) -> None:
    from calsync.exports import approval_json
    from calsync.sync.approvals import decide_approvals

    identity = _identity(who, roles)
    assert identity is not None
    with open_services() as services:
        with errors():
            ids = _approval_ids(services, approval_ids)
        try:
            decision = decide_approvals(services, ids, identity, approve, reason, whole_series)
        except ApprovalDecided as exc:
            _refused(exc, ExitCode.already_decided)
        except NotAPerformer as exc:
            _refused(exc, ExitCode.not_a_performer)
        except Exception as exc:
            with errors():
                raise exc from None
        rows = [
            approval_json(s, r)
            for s, r in zip(decision.approvals, decision.reservations, strict=True)
        ]
        if not as_json:
            _queued(decision.events)
    show_rows(rows, as_json, approvals_table)


def _queued(events: tuple[int, ...]) -> None:
    if events:
        said = ", ".join(str(e) for e in events)
        console.print(f"the room's answer is queued for the calendar (event {said})", style="dim")


def _refused(exc: Exception, code: ExitCode) -> None:
    from rich.markup import escape

    console.print(f"[red]error:[/red] {escape(str(exc))}")
    raise typer.Exit(int(code))


def _approval_ids(services: Services, given: list[str]) -> list[int]:
    """Each approval named by its id, or the pending one of the reservation named."""
    from calsync.errors import NotFound
    from calsync.store.short_ids import resolve_reservation_id

    ids = []
    with services.read() as uow:
        for text in given:
            if text.isdigit() and len(text) < 12:
                ids.append(uow.approvals.get(int(text)).id)
                continue
            reservation = resolve_reservation_id(uow.session, text)
            waiting = uow.approvals.pending_of([reservation]).get(reservation)
            if waiting is None:
                raise NotFound(f"reservation {reservation} waits for no approval")
            ids.append(waiting.id)
    return ids


def _identity(who: str | None, roles: list[str] | None) -> Identity | None:
    from calsync.domain.approvals import Identity

    if who is None and not roles:
        return None
    return Identity((who or "").strip().lower(), frozenset(roles or ()))
