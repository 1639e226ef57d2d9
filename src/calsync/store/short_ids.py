"""Reservation ids as people type them: `resolve_reservation_id(session, text)`.

Reservation ids are time-ordered UUIDs (version 7): ids made the same day share their
first characters, so a table showing `id[:8]` showed the same `01a2321c` on every row.
Their last characters are random: tables show those (`calsync.tables.short_id`), and a
command takes a full id or any unique prefix or suffix of one (at least `MINIMUM`
characters). A short id that matches several reservations is refused with the
candidates, never guessed.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from calsync.errors import AmbiguousId, NotFound
from calsync.store.tables import ReservationRow

MINIMUM = 4
_CANDIDATES = 10
_ID_CHARACTERS = re.compile(r"[0-9a-f-]+")


def resolve_reservation_id(session: Session, given: str) -> str:
    """The full id of the one reservation whose id is, starts with or ends with `given`."""
    text = given.strip().lower()
    if not _ID_CHARACTERS.fullmatch(text):
        raise NotFound(f"{given!r} is not a reservation id (hexadecimal digits and dashes)")
    if len(text) == 36:
        return text
    if len(text.replace("-", "")) < MINIMUM:
        raise NotFound(f"{given!r} is too short: give at least {MINIMUM} characters of the id")
    rows = session.execute(
        select(ReservationRow.id, ReservationRow.start_at, ReservationRow.subject)
        .where(or_(ReservationRow.id.startswith(text), ReservationRow.id.endswith(text)))
        .order_by(ReservationRow.id)
        .limit(_CANDIDATES + 1)
    ).all()
    if not rows:
        raise NotFound(f"no reservation id starts or ends with {given!r}")
    if len(rows) > 1:
        listed = "; ".join(
            f"{row.id} ({row.start_at:%Y-%m-%d %H:%M} {row.subject})".rstrip()
            for row in rows[:_CANDIDATES]
        )
        more = " and more" if len(rows) > _CANDIDATES else ""
        raise AmbiguousId(f"{given!r} matches several reservations: {listed}{more}")
    return str(rows[0].id)
