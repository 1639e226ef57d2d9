"""The room's answer as a `respond` event carries it: `respond_payload(...)` writes the
payload, `room_answer_of(payload, room_address, now)` reads it back into the seam's
`RoomAnswer` (the PARTSTAT, and the occurrences of an accepted series declined one by
one). A payload that does not say a valid answer is refused with the reason, on its own
event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from calsync.errors import InvalidCalendarData
from calsync.providers.base import RoomAnswer

ANSWERS = frozenset({"ACCEPTED", "DECLINED", "TENTATIVE"})


def respond_payload(
    item: str,
    provider_id: str,
    room_address: str,
    partstat: str,
    declined: Sequence[datetime] = (),
    **decided_on: Any,
) -> dict[str, Any]:
    """The payload; `decided_on` may name the `version` and `calendar_item_id` the answer
    was decided on (then it is written into that version only)."""
    return {
        "item": item,
        "provider_id": provider_id,
        "room_address": room_address,
        "partstat": partstat,
        "declined": [moment.isoformat() for moment in declined],
        **decided_on,
    }


def room_answer_of(payload: dict[str, Any], room_address: str, now: datetime) -> RoomAnswer:
    partstat = payload.get("partstat")
    if not isinstance(partstat, str) or partstat.upper() not in ANSWERS:
        raise InvalidCalendarData(
            f"a room answers ACCEPTED, DECLINED or TENTATIVE, not {partstat!r}"
        )
    declined = payload.get("declined") or []
    if not isinstance(declined, list):
        raise InvalidCalendarData(f"declined occurrences must be a list, not {declined!r}")
    try:
        moments = tuple(datetime.fromisoformat(str(text)) for text in declined)
    except ValueError as exc:
        raise InvalidCalendarData(f"a declined occurrence is not a time: {exc}") from None
    if any(moment.tzinfo is None for moment in moments):
        raise InvalidCalendarData("a declined occurrence must carry its UTC offset")
    return RoomAnswer(room_address, partstat.upper(), now, moments)
