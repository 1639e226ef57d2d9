"""API tokens in the store: `issue` one (the token is shown once, only its SHA-256 is
kept), `verify` a presented one (compared in constant time), list and revoke them.

A token reads `calsync_<key>_<secret>`: `key` (8 hex digits) is public, shown in lists
and named to revoke; `secret` is 256 random bits. Only the SHA-256 of the whole token is
stored: a stolen database yields no token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.domain.access import Role
from calsync.errors import NotFound
from calsync.store.tables import ApiTokenRow

PREFIX = "calsync_"
_SHAPE = re.compile(r"calsync_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_NO_HASH = token_hash("")


@dataclass(frozen=True)
class StoredToken:
    """A token as stored: never the token itself."""

    key: str
    name: str
    role: Role
    performer: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiTokenRow) -> StoredToken:
        return cls(row.key, row.name, Role(row.role), row.performer, row.created_at, row.revoked_at)


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def issue(self, role: Role, now: datetime, name: str = "", performer: str = "") -> str:
        """A new token granting `role`: returned once, stored as its hash."""
        while True:
            key = secrets.token_hex(4)
            if self.session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.key == key)) is None:
                break
        token = f"{PREFIX}{key}_{secrets.token_urlsafe(32)}"
        self.session.add(
            ApiTokenRow(
                key=key,
                name=name,
                role=role.value,
                performer=performer.strip().lower(),
                token_hash=token_hash(token),
                created_at=now,
            )
        )
        self.session.flush()
        return token

    def verify(self, token: str) -> StoredToken | None:
        """The live token `token` is, or None. The hash is compared in constant time,
        and a token of no stored key costs the same comparison."""
        shape = _SHAPE.fullmatch(token)
        row = None
        if shape is not None:
            row = self.session.scalar(select(ApiTokenRow).where(ApiTokenRow.key == shape[1]))
        stored = row.token_hash if row is not None else _NO_HASH
        matches = hmac.compare_digest(token_hash(token), stored)
        if row is None or not matches or row.revoked_at is not None:
            return None
        return StoredToken.of(row)

    def live(self, key: str) -> StoredToken | None:
        """The token of public key `key` if it is not revoked (a session of the admin
        pages names its token by key, `calsync.web.session`)."""
        row = self.session.scalar(select(ApiTokenRow).where(ApiTokenRow.key == key))
        if row is None or row.revoked_at is not None:
            return None
        return StoredToken.of(row)

    def all(self) -> list[StoredToken]:
        rows = self.session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))
        return [StoredToken.of(row) for row in rows]

    def revoke(self, key: str, now: datetime) -> StoredToken:
        """Revoke the token of `key` (revoking twice keeps the first time)."""
        row = self.session.scalar(select(ApiTokenRow).where(ApiTokenRow.key == key.strip()))
        if row is None:
            raise NotFound(f"no API token with key {key!r}")
        if row.revoked_at is None:
            row.revoked_at = now
        self.session.flush()
        return StoredToken.of(row)
