"""`Dispatcher`: runs claimed events side by side, claiming only what it can start soon.

Sending thousands of room answers one after another takes minutes; each waits mostly on
the network. The dispatcher keeps up to `concurrency` runs in flight (one pool per
dispatcher, so per connection when the caller makes one per connection). Each free slot
goes to a due read first, claimed for that slot only: a read is long, and one claimed
ahead would hold its calendar back from the other workers. Outbound events are claimed
`PREFETCH` times as many as the slots, in one claim (which costs about as much for 64
events as for one: a window over every unfinished event), and started as slots free up;
room answers go `ANSWERS_PER_RUN` to a run (`run_answers`), their bookkeeping shared,
the answers of one series in one run.
A claimed event still starts well within its lease: one that waited a third of it is
given back unstarted and claimed again later. Writes of one calendar object never run at
once and keep their order: the claim skips an event while an earlier one of its
reservation is unfinished.

`stop()` claims nothing more; `drain(grace)` lets the runs in hand finish for up to
`grace` seconds, then gives the claims of those still running back to the queue.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

from calsync.bootstrap import Services
from calsync.domain.events import Action
from calsync.store.records import Claim
from calsync.worker.runner import RunResult, lease_of, run_answers, run_claimed

#: Claims up to n events of a kind ("reads" or "outbound"); returns their claims.
Claimer = Callable[[int, str], list[Claim]]

#: Events claimed ahead, per slot: a claim of many costs about what a claim of one does.
PREFETCH = 8

#: Room answers sent by one run, one after another, under shared bookkeeping.
ANSWERS_PER_RUN = 8


def _runs(claims: list[Claim], slots: int) -> list[list[Claim]]:
    """The claims as runs: every event alone but room answers, which share runs of up to
    `ANSWERS_PER_RUN`, no more than fill every slot (a few answers go side by side). The
    answers of one series stay in one run, whatever their number: where the service
    takes a series' answer once, that run writes it once (`calsync.sync.series`)."""
    answers = [claim for claim in claims if claim.action == Action.respond.value]
    others = [[claim] for claim in claims if claim.action != Action.respond.value]
    size = max(1, min(ANSWERS_PER_RUN, -(-len(answers) // slots)))
    series: dict[str, list[Claim]] = {}
    for claim in answers:
        series.setdefault(claim.series or f"event {claim.event_id}", []).append(claim)
    runs: list[list[Claim]] = []
    run: list[Claim] = []
    for together in series.values():
        if run and len(run) + len(together) > size:
            runs.append(run)
            run = []
        run += together
        if len(run) >= size:
            runs.append(run)
            run = []
    return others + runs + ([run] if run else [])


def _run(services: Services, claims: list[Claim], giving_back: threading.Event) -> list[RunResult]:
    if len(claims) == 1 and claims[0].action != Action.respond.value:
        return [run_claimed(services, claims[0])]
    return run_answers(services, claims, giving_back)


class Dispatcher:
    def __init__(self, services: Services, concurrency: int) -> None:
        self.services, self.concurrency = services, concurrency
        self.stopping = threading.Event()
        self._giving_back = threading.Event()  # runs of answers send nothing more
        # Not daemon threads: a run still stuck after `drain` keeps the process alive,
        # which is why `calsync worker` leaves with os._exit once its claims are given back.
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="run")
        self._running: dict[Future[list[RunResult]], list[Claim]] = {}
        self._ready: deque[tuple[datetime, list[Claim]]] = deque()  # claimed, not started
        self._fresh_for = lease_of(services) / 3

    def run(
        self, claim: Claimer, on_result: Callable[[RunResult], None], idle: float | None = None
    ) -> None:
        """Claim and run until nothing is due (or, with `idle`, until stopped: sleep `idle`
        seconds when nothing is due)."""
        while not self.stopping.is_set():
            self._start(claim)
            if not self._running:
                if idle is None:
                    return
                self.stopping.wait(idle)
                continue
            done, _ = wait(self._running, timeout=idle, return_when=FIRST_COMPLETED)
            for future in done:
                del self._running[future]
                for result in future.result():
                    on_result(result)

    def _start(self, claim: Claimer) -> None:
        """Fill the free slots: due reads first (claimed for the free slots only: a read is
        long, and one claimed ahead would hold its calendar back from the other workers),
        then the outbound runs claimed ahead, claiming more when none is left. Runs that
        waited a third of their lease go back to the queue first."""
        if self._ready and self.services.clock() - self._ready[0][0] > self._fresh_for:
            self._give_back(self._unstarted())
        free = self.concurrency - len(self._running)
        if free:
            for read in claim(free, "reads"):
                self._submit([read])
                free -= 1
        if free and not self._ready:
            now = self.services.clock()  # leases run on the services' clock
            claimed = claim(self.concurrency * PREFETCH, "outbound")
            self._ready.extend((now, run) for run in _runs(claimed, self.concurrency))
        while free and self._ready:
            self._submit(self._ready.popleft()[1])
            free -= 1

    def _submit(self, claims: list[Claim]) -> None:
        future = self._pool.submit(_run, self.services, claims, self._giving_back)
        self._running[future] = claims

    def _unstarted(self) -> list[Claim]:
        claims = [claim for _, run in self._ready for claim in run]
        self._ready.clear()
        return claims

    def _give_back(self, claims: list[Claim]) -> list[Claim]:
        """Release these claims (due again now); those that still held their event."""
        released = []
        with self.services.uow() as uow:
            for claimed in claims:
                if uow.events.release(claimed, self.services.clock()):
                    released.append(claimed)
            uow.commit()
        return released

    def stop(self) -> None:
        self.stopping.set()

    def drain(self, grace: float, on_result: Callable[[RunResult], None]) -> list[Claim]:
        """Wait up to `grace` seconds for the runs in hand; give back the claims of those
        still running (their next commit is refused). The claims given back."""
        done, _ = wait(self._running, timeout=grace)
        for future in done:
            for result in future.result():
                on_result(result)
            del self._running[future]
        self._giving_back.set()
        running = [claim for claims in self._running.values() for claim in claims]
        released = self._give_back([*running, *self._unstarted()])
        self._pool.shutdown(wait=False, cancel_futures=True)
        return released

    def close(self) -> None:
        self._pool.shutdown(wait=True)
