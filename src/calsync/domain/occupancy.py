"""Which spans of one workplace item are held, for conflict checks without a database.

`Occupancy` keeps the holding reservations of one item sorted by start. Holding
reservations never overlap (DESIGN invariant 2), so one bisect finds the only
neighbours that could clash: a check costs O(log n).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from datetime import datetime

Span = tuple[datetime, datetime, str]


class Occupancy:
    """The held spans of one item: (start, end, reservation id), non-overlapping."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self._spans: list[Span] = sorted(spans)

    def __len__(self) -> int:
        return len(self._spans)

    def clash(self, start: datetime, end: datetime, ignore: str | None = None) -> str | None:
        """The id of a held reservation overlapping [start, end), other than `ignore`."""
        spans = self._spans
        index = bisect_left(spans, (start,))
        # The span before may reach into ours; the ones after (the one ignored aside)
        # may start inside it. Spans further away cannot, as held spans never overlap.
        for at in (index - 1, index, index + 1):
            if 0 <= at < len(spans):
                other_start, other_end, other_id = spans[at]
                if other_id != ignore and other_start < end and start < other_end:
                    return other_id
        return None

    def hold(self, start: datetime, end: datetime, reservation_id: str) -> None:
        insort(self._spans, (start, end, reservation_id))

    def release(self, reservation_id: str) -> None:
        self._spans = [span for span in self._spans if span[2] != reservation_id]
