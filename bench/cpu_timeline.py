"""Busy CPUs over time, from /proc/stat (Linux): what a run keeps busy and what it leaves idle.

with CpuTimeline() as timeline:
    ...                             # the measured run
print(text(timeline.samples))      # "0.5:1.0 1.0:1.5 ..." busy CPUs per half second
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

STAT = Path("/proc/stat")


class CpuTimeline:
    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, busy cores)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._began = 0.0

    @staticmethod
    def available() -> bool:
        return STAT.exists()

    def __enter__(self) -> CpuTimeline:
        self._began = time.perf_counter()
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

    def _sample(self) -> None:
        cores = os.cpu_count() or 1
        busy, total = _ticks()
        while not self._stop.wait(self.interval):
            now_busy, now_total = _ticks()
            share = (now_busy - busy) / max(1, now_total - total)
            self.samples.append((time.perf_counter() - self._began, cores * share))
            busy, total = now_busy, now_total


def mean(samples: list[tuple[float, float]]) -> float:
    return sum(busy for _, busy in samples) / max(1, len(samples))


def text(samples: list[tuple[float, float]]) -> str:
    return " ".join(f"{at:.1f}:{busy:.1f}" for at, busy in samples)


def _ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs; idle and iowait are not busy."""
    values = [int(v) for v in STAT.read_text().splitlines()[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)
