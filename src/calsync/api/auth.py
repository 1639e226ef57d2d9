"""Who calls: `Authorization: Bearer <token>` on every route but /healthz and the verified
provider webhooks. A route declares what it needs with `allow(permission, ...)`; which
role grants which permission is `calsync.domain.access.GRANTS`.

No token, or one that is unknown, malformed or revoked: 401 (with `WWW-Authenticate:
Bearer`). A live token whose role grants none of the permissions: 403, naming the role.
Tokens are made with `calsync tokens create`; the store keeps only their hash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from calsync.api.services import ServicesDep
from calsync.domain.access import Permission, Role, allows

#: Shown in the OpenAPI document as the API's security scheme ("Authorize" in /docs).
bearer = HTTPBearer(auto_error=False, description="A token from `calsync tokens create`.")


@dataclass(frozen=True)
class Caller:
    """The holder of a live token: its key, role and (for an approver) performer address."""

    key: str
    role: Role
    performer: str


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def caller(
    services: ServicesDep,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
) -> Caller:
    """The caller the bearer token names; 401 without a live token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send a token as `Authorization: Bearer <token>`")
    with services.lookup() as uow:
        stored = uow.tokens.verify(credentials.credentials)
    if stored is None:
        raise _unauthorized("the token is unknown or revoked")
    return Caller(stored.key, stored.role, stored.performer)


def allow(*wanted: Permission) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting a caller whose role grants any of `wanted`; 403 otherwise."""
    names = " or ".join(permission.value for permission in wanted)

    async def admitted(who: Caller = Depends(caller)) -> Caller:  # noqa: B008
        if not allows(who.role, *wanted):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {who.role.value} token may not do this (it needs {names})",
            )
        return who

    return admitted
