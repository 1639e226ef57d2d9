"""One log line per event run: `log_run(result, ...)`, and `worker_logs(format)` for the
worker's output (`--log-format text|json`).

JSON lines carry `event_id`, `item`, `action`, `outcome` (processed, new = retried
later, error, claim_lost), `duration_s`, `attempt` and `error`, for log shippers; text
lines say the same for a person. Neither ever holds a credential: errors are calsync's
own messages.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calsync.worker.runner import RunResult

log = logging.getLogger("calsync.worker.runs")
# Outside `worker_logs` (a `calsync sync`, a test) runs log nowhere: the command reports.
log.addHandler(logging.NullHandler())


def log_run(result: RunResult, item: str, action: str, attempt: int, duration: float) -> None:
    fields = {
        "event_id": result.event_id,
        "item": item,
        "action": action,
        "outcome": result.outcome,
        "duration_s": round(duration, 3),
        "attempt": attempt,
        "error": result.error or None,
    }
    level = logging.INFO if result.outcome == "processed" else logging.WARNING
    log.log(level, "event %s %s %s: %s", result.event_id, action, item, result.outcome,
            extra={"run": fields})  # fmt: skip


class JsonLines(logging.Formatter):
    """Each record as one JSON object; a run's fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
        }
        run = getattr(record, "run", None)
        if run is not None:
            data |= run
        else:
            data["message"] = record.getMessage()
        return json.dumps(data)


class TextLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        run = getattr(record, "run", None)
        if run is None:
            return f"{self.formatTime(record)} {record.getMessage()}"
        error = f" - {run['error']}" if run["error"] else ""
        return (
            f"{self.formatTime(record)} event {run['event_id']} {run['action']}"
            f" {run['item']}: {run['outcome']} in {run['duration_s']:.2f} s"
            f" (attempt {run['attempt']}){error}"
        )


@contextmanager
def worker_logs(log_format: str) -> Iterator[None]:
    """While the block runs, calsync logs to stderr, one line per record, as text or JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else TextLines())
    root = logging.getLogger("calsync")
    before = root.handlers[:], root.level, root.propagate
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        yield
    finally:
        root.handlers[:], root.level, root.propagate = before
