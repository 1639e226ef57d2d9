"""`calsync tokens create|list|revoke`: the tokens of the HTTP API (`calsync serve`).

A token is printed once, when it is made; the store keeps only its hash. Lists show each
token's public key, which `revoke` takes.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from calsync.cli.common import JsonOption, console, errors, open_services, print_json, print_table

tokens_app = typer.Typer(help="Tokens of the HTTP API.", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option("--role", help="admin, approver, integration or viewer.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    performer: Annotated[
        str,
        typer.Option("--performer", help="An approver's address: the approvals it may decide."),
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Make a token granting ROLE and print it, once: only its hash is kept."""
    from calsync.domain.access import Role

    if role not in {r.value for r in Role}:
        raise typer.BadParameter("admin, approver, integration or viewer", param_hint="--role")
    with errors(), open_services() as services, services.uow() as uow:
        token = uow.tokens.issue(Role(role), services.clock(), name, performer)
        uow.commit()
    if as_json:
        print_json({"token": token, "role": role, "name": name, "performer": performer or None})
        return
    typer.echo(token)
    typer.echo(
        f"a {role} token, shown this once: keep it now (send it as `Authorization: Bearer TOKEN`)",
        err=True,
    )


@tokens_app.command("list")
def tokens_list(as_json: JsonOption = False) -> None:
    """The tokens: key, name, role, performer, when made and revoked (never the token)."""
    with errors(), open_services() as services, services.read() as uow:
        rows = [_token_json(stored) for stored in uow.tokens.all()]
    if as_json:
        print_json(rows)
        return
    print_table(
        "API tokens",
        ["key", "name", "role", "performer", "created", "revoked"],
        [
            [r["key"], r["name"], r["role"], r["performer"] or "", r["created_at"],
             r["revoked_at"] or ""]
            for r in rows
        ],
    )  # fmt: skip


@tokens_app.command("revoke")
def tokens_revoke(
    key: Annotated[str, typer.Argument(help="The token's key, as `tokens list` shows it.")],
) -> None:
    """Revoke a token: it is refused from the next request on."""
    with errors(), open_services() as services, services.uow() as uow:
        revoked = uow.tokens.revoke(key, services.clock())
        uow.commit()
    console.print(f"token {revoked.key} ({revoked.role.value}) revoked")


def _token_json(stored: Any) -> dict[str, Any]:
    return {
        "key": stored.key,
        "name": stored.name,
        "role": stored.role.value,
        "performer": stored.performer or None,
        "created_at": stored.created_at.isoformat(),
        "revoked_at": stored.revoked_at.isoformat() if stored.revoked_at else None,
    }
