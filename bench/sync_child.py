"""One calsync synchronization in this process, reported as one JSON line on stdout.

Run by `initial_and_incremental.py` in a fresh interpreter per measurement, so that the peak
RSS is the whole process's. The synchronization goes through the product's code path, the
one `calsync sync` takes: `start(settings)`, `request_sync`, `run_now` (claim the read
event, then fetch, record calendar items, apply them into reservations). Outbound events (the room's
answers to clashes) are left queued: no worker runs.

With --init it only creates the schema and the item, as `calsync init` does before the
first synchronization; the bench runs that first, in a process of its own, and times it
apart (as it runs `vdirsyncer discover` before timing `vdirsyncer sync`).

    python bench/sync_child.py --database-url URL --dav-url URL [--init] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import time
from typing import Any

from calendar_data import CALENDAR, ROOM_ADDRESS, ZONE
from sqlalchemy import create_engine, func, select

from calsync.bootstrap import Services, start
from calsync.config import parse
from calsync.providers.caldav import CalDAVProvider
from calsync.store.tables import EventRow, ReservationRow
from calsync.worker.runner import RunResult, request_sync, run_now

ITEM = "Bench Room"
CONNECTION = "bench"


def settings(database_url: str, dav_url: str) -> Any:
    return parse(
        {
            "database": {"url": database_url},
            "connections": {CONNECTION: {"kind": "caldav", "url": dav_url, "timeout": 300}},
            "items": [
                {
                    "name": ITEM,
                    "time_zone": ZONE,
                    "binding": {
                        "connection": CONNECTION,
                        "calendar": CALENDAR,
                        "room_address": ROOM_ADDRESS,
                    },
                }
            ],
        }
    )


def synchronize(services: Services) -> RunResult:
    return run_now(services, request_sync(services, ITEM))


def counts(database_url: str) -> dict[str, dict[str, int]]:
    """Reservations by status and events by action/state (the bench asks, after the run)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        by_status = connection.execute(
            select(ReservationRow.status, func.count()).group_by(ReservationRow.status)
        )
        reservations = {str(status): int(n) for status, n in by_status}
        by_event = connection.execute(
            select(EventRow.action, EventRow.state, func.count()).group_by(
                EventRow.action, EventRow.state
            )
        )
        events = {f"{action}/{state}": n for action, state, n in by_event}
    engine.dispose()
    return {"reservations": reservations, "events": events}


def prepare(database_url: str, dav_url: str) -> dict[str, Any]:
    """Create the schema and the item, as `calsync init` does before the first sync."""
    began = time.perf_counter()
    start(settings(database_url, dav_url)).close()
    return {"init_s": time.perf_counter() - began}


def run(database_url: str, dav_url: str, profile: str | None) -> dict[str, Any]:
    began = time.perf_counter()
    services = start(settings(database_url, dav_url))
    started = time.perf_counter()
    provider = services.provider(CONNECTION)
    assert isinstance(provider, CalDAVProvider)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    try:
        report = outcome(synchronize(services))
    except Exception as exc:  # noqa: BLE001 - a crash is a result to report, not to hide
        report = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    report |= {
        "start_s": started - began,
        "sync_s": time.perf_counter() - started,
        "requests": provider.counters.requests,
        "bytes_received": provider.counters.bytes_received,
        "bytes_sent": provider.counters.bytes_sent,
        "server_s": provider.counters.server_seconds,
    }
    services.close()
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def outcome(result: RunResult) -> dict[str, Any]:
    sync = result.synchronization
    return {
        "error": result.error,
        "mode": sync.mode.value if sync else "",
        "outcome": sync.outcome.value if sync else "failed",
        "calendar_items": sync.calendar_items if sync else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--dav-url", required=True)
    parser.add_argument("--profile", help="write cProfile statistics of the sync to this file")
    parser.add_argument("--init", action="store_true", help="only create the schema and item")
    args = parser.parse_args()
    if args.init:
        print(json.dumps(prepare(args.database_url, args.dav_url)))
    else:
        print(json.dumps(run(args.database_url, args.dav_url, args.profile)))


if __name__ == "__main__":
    main()
