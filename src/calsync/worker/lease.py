"""`Heartbeat(services, claim)`: keeps a running event's lease alive while its run lasts.

A claim's lease is short (`sync.lease_seconds`, a minute by default) so that a dead run is
taken over quickly; a live run renews it every third of the lease, in its own session,
beside the run's own transactions. A renewal that finds the claim lost (another worker
took the event over while this one stalled) flags it: the run's next commit is refused
by the same check (`EventRepository.hold`), and `lost` lets the runner stop before it
starts anything new.
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
    """A thread renewing `claim`'s lease every third of the lease, until the block ends."""

    def __init__(self, services: Services, claim: Claim) -> None:
        self.services, self.claim = services, claim
        self.lease = timedelta(seconds=services.settings.sync.lease_seconds)
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{claim.event_id}", daemon=True
        )

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        """`ClaimLost` if a renewal found the event taken over."""
        if self.lost:
            raise ClaimLost(f"event {self.claim.event_id} was taken over by another worker")

    def renew(self) -> None:
        with self.services.uow() as uow:
            uow.events.hold(self.claim, self.services.clock(), self.lease)
            uow.commit()

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                self.renew()
            except ClaimLost:
                self._lost.set()
                return
            except SQLAlchemyError as exc:
                # A database hiccup: the next beat tries again, well within the lease.
                log.warning("event %s: lease not renewed: %s", self.claim.event_id, exc)

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
