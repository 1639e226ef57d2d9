"""Synchronizations and the sweep rule: absence from a listing is not proof of deletion.

`plan_sweep(listed, known, confirmed, guard)` decides which provider ids a full
synchronization may treat as deleted. A listing that is empty, or far smaller than what the
calendar held, while many entries lived, is refused (`SweepNeedsConfirmation`) until an
admin confirms, as vdirsyncer refuses an emptied storage (`StorageEmpty`). `SweepGuard`
says what "far smaller" and "many" are (settings `sync.sweep_hold_share` and
`sync.sweep_hold_minimum`).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum


class SyncMode(StrEnum):
    full = "full"
    incremental = "incremental"


class SyncOutcome(StrEnum):
    #: Pages of changes are being recorded; the delta key has not moved yet.
    running = "running"
    #: The worker stopped before the end (a crash): the key never moved, the next read redoes it.
    interrupted = "interrupted"
    succeeded = "succeeded"
    failed = "failed"
    needs_confirmation = "needs_confirmation"


@dataclass(frozen=True)
class SweepGuard:
    """When a full listing looks like data loss rather than deletions."""

    #: A listing still holding less than this share of the known entries is suspicious
    #: (with 0, only a listing that holds none of them is).
    share: float = 0.5
    #: Below this many known entries, only a listing holding none of them is suspicious.
    minimum: int = 10


@dataclass(frozen=True)
class Sweep:
    """Provider ids that the calendar no longer has: their reservations are cancelled."""

    gone: frozenset[str]


@dataclass(frozen=True)
class SweepNeedsConfirmation:
    """The listing looks like data loss; nothing is swept until an admin confirms."""

    listed: int
    known: int

    def __str__(self) -> str:
        return (
            f"the calendar listed {self.listed} entries where {self.known} were known; "
            "deletions are held until confirmed (calsync sync --item NAME --full --confirm-sweep)"
        )


def plan_sweep(
    listed: Set[str], known: Set[str], confirmed: bool = False, guard: SweepGuard = SweepGuard()
) -> Sweep | SweepNeedsConfirmation:
    gone = frozenset(known - listed)
    if not gone or confirmed:
        return Sweep(gone)
    present = len(known & listed)
    if present == 0 or (len(known) >= guard.minimum and present < len(known) * guard.share):
        return SweepNeedsConfirmation(listed=len(listed), known=len(known))
    return Sweep(gone)
