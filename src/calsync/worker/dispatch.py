"""`Dispatcher`: runs claimed events side by side, claiming only what it can start.

Sending thousands of room answers one after another takes minutes; each waits mostly on
the network. The dispatcher keeps up to `concurrency` runs in flight (one pool per
dispatcher, so per connection when the caller makes one per connection) and claims a new
event only when a slot frees up: every claimed event starts at once, well within its
lease. Writes of one calendar object never run at once and keep their order: the claim
skips an event while an earlier one of its reservation is unfinished.

`stop()` claims nothing more; `drain(grace)` lets the runs in hand finish for up to
`grace` seconds, then gives the claims of those still running back to the queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from calsync.bootstrap import Services
from calsync.store.records import Claim
from calsync.worker.runner import RunResult, run_claimed

#: Claims up to n events; returns their claims.
Claimer = Callable[[int], list[Claim]]


class Dispatcher:
    def __init__(self, services: Services, concurrency: int) -> None:
        self.services, self.concurrency = services, concurrency
        self.stopping = threading.Event()
        # Not daemon threads: a run still stuck after `drain` keeps the process alive,
        # which is why `calsync worker` leaves with os._exit once its claims are given back.
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="run")
        self._running: dict[Future[RunResult], Claim] = {}

    def run(
        self, claim: Claimer, on_result: Callable[[RunResult], None], idle: float | None = None
    ) -> None:
        """Claim and run until nothing is due (or, with `idle`, until stopped: sleep `idle`
        seconds when nothing is due)."""
        while not self.stopping.is_set():
            free = self.concurrency - len(self._running)
            for claimed in claim(free) if free else []:
                self._running[self._pool.submit(run_claimed, self.services, claimed)] = claimed
            if not self._running:
                if idle is None:
                    return
                self.stopping.wait(idle)
                continue
            done, _ = wait(self._running, timeout=idle, return_when=FIRST_COMPLETED)
            for future in done:
                del self._running[future]
                on_result(future.result())

    def stop(self) -> None:
        self.stopping.set()

    def drain(self, grace: float, on_result: Callable[[RunResult], None]) -> list[Claim]:
        """Wait up to `grace` seconds for the runs in hand; give back the claims of those
        still running (their next commit is refused). The claims given back."""
        done, _ = wait(self._running, timeout=grace)
        for future in done:
            on_result(future.result())
            del self._running[future]
        released = []
        with self.services.uow() as uow:
            for claim in self._running.values():
                if uow.events.release(claim, self.services.clock()):
                    released.append(claim)
            uow.commit()
        self._pool.shutdown(wait=False, cancel_futures=True)
        return released

    def close(self) -> None:
        self._pool.shutdown(wait=True)
