"""`Heartbeat(services, *claims)`: keeps running events' leases alive while their run lasts.

A claim's lease is short (`sync.lease_seconds`, a minute by default) so that a dead run is
taken over quickly; a live run renews it every third of the lease, in its own session,
beside the run's own transactions. A renewal that finds the claim lost (another worker
took the event over while this one stalled) flags it: the run's next commit is refused
by the same check (`EventRepository.hold`), and `lost` lets the runner stop before it
starts anything new. A run of several events (room answers sent together) renews them
all in one statement and learns which it lost (`lost_ids`).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from calsync.bootstrap import Services
from calsync.errors import ClaimLost
from calsync.store.records import Claim

log = logging.getLogger("calsync.worker")


class Heartbeat:
    """A thread renewing the claims' leases every third of the lease, until the block ends."""

    def __init__(self, services: Services, *claims: Claim) -> None:
        self.services, self.claims = services, claims
        self.lease = timedelta(seconds=services.settings.sync.lease_seconds)
        self._lost: set[int] = set()
        self._renewing = threading.Lock()
        self._renewed_at = services.clock()  # just claimed or held
        self._stop = threading.Event()
        name = f"lease-{claims[0].event_id}" if claims else "lease"
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    @property
    def lost(self) -> bool:
        """Every claim was lost."""
        return bool(self.claims) and len(self._lost) == len(self.claims)

    def lost_ids(self) -> frozenset[int]:
        """The events found taken over, renewing first if no renewal confirmed the claims
        for a third of a lease (a process that stalled, its heartbeat with it): a run asks
        before each write, so one that lost its claim sends nothing more."""
        if self.services.clock() - self._renewed_at > self.lease / 3:
            self.renew()
        return frozenset(self._lost)

    def check(self) -> None:
        """`ClaimLost` if a renewal found the event taken over."""
        if self.lost:
            raise ClaimLost(f"event {self.claims[0].event_id} was taken over by another worker")

    def renew(self) -> None:
        with self._renewing:
            held = [claim for claim in self.claims if claim.event_id not in self._lost]
            now = self.services.clock()
            with self.services.uow() as uow:
                kept = uow.events.hold_all(held, now, self.lease)
                uow.commit()
            self._lost |= {claim.event_id for claim in held} - kept.keys()
            self._renewed_at = now

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self.lost and not self._stop.wait(interval):
            try:
                self.renew()
            except SQLAlchemyError as exc:
                # A database hiccup: the next beat tries again, well within the lease.
                ids = ", ".join(str(claim.event_id) for claim in self.claims)
                log.warning("event %s: lease not renewed: %s", ids, exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
