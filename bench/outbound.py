"""Sending room answers: one after another (the worker's old way) against side by side
(`calsync sync`'s `send_outbound`, `sync.push_concurrency` at once), on one Radicale.

    .venv/bin/python bench/outbound.py [--count 2000] [--concurrency 8] [--database URL]

A room calendar of COUNT meetings that each still await the room's answer
(PARTSTAT=NEEDS-ACTION) is laid out in Radicale's storage, read once without sending
(`sync --no-push`: COUNT respond events queued), then the respond events are sent: first
one after another (`run_once`, claiming each just before it runs), then, queued again,
side by side. Each answer is a GET and a conditional PUT. Prints events per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from calsync.bootstrap import start
from calsync.config import parse
from calsync.radicale_server import RadicaleServer
from calsync.store.tables import EventRow
from calsync.worker.outbound import send_outbound
from calsync.worker.runner import request_sync, run_now, run_once

ROOM = "bench-room@example.com"
CALENDAR = "/rooms/bench-answers/"


def meeting(index: int) -> bytes:
    day = datetime(2027, 1, 4) + timedelta(days=index // 8)
    start = day + timedelta(hours=8 + index % 8)
    end = start + timedelta(hours=1)
    stamp = "%Y%m%dT%H%M%S"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//outbound//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:answer-{index}\r\nDTSTAMP:20261101T120000Z\r\n"
        f"DTSTART:{start.strftime(stamp)}Z\r\nDTEND:{end.strftime(stamp)}Z\r\n"
        f"SUMMARY:Meeting {index}\r\nORGANIZER:mailto:alice@example.com\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{ROOM}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def write_storage(folder: Path, count: int) -> None:
    collection = folder / "collection-root" / CALENDAR.strip("/")
    collection.mkdir(parents=True)
    props = {"tag": "VCALENDAR", "D:displayname": "Bench answers"}
    (collection / ".Radicale.props").write_text(json.dumps(props))
    for index in range(count):
        (collection / f"answer-{index}.ics").write_bytes(meeting(index))


def requeue(services) -> None:
    with services.uow() as uow:
        uow.session.execute(
            update(EventRow)
            .where(EventRow.action == "respond")
            .values(state="new", next_attempt_at=services.clock(), claimed_until=None)
        )
        uow.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-") as folder:
        storage = Path(folder) / "radicale"
        write_storage(storage, args.count)
        database = args.database or f"sqlite:///{Path(folder) / 'calsync.db'}"
        with RadicaleServer(storage) as server:
            settings = parse(
                {
                    "database": {"url": database},
                    "sync": {"push_concurrency": args.concurrency},
                    "connections": {"dav": {"kind": "caldav", "url": server.url, "timeout": 600}},
                    "items": [
                        {
                            "name": "Bench room",
                            "binding": {
                                "connection": "dav",
                                "calendar": CALENDAR,
                                "room_address": ROOM,
                            },
                        }
                    ],
                }
            )
            services = start(settings)
            read = run_now(services, request_sync(services, "Bench room"))
            assert read.error == "", read.error
            with services.uow() as uow:
                room = uow.items.get("Bench room").id
                queued = uow.events.count_outbound([room], services.clock())
            print(f"{queued} respond events queued by the read of {args.count} meetings")

            started = time.perf_counter()
            sent = 0
            while batch := run_once(services, limit=100):
                sent += sum(result.state.value == "processed" for result in batch)
            one_by_one = time.perf_counter() - started
            print(f"one after another: {sent} sent in {one_by_one:.1f} s"
                  f" ({sent / one_by_one:.0f}/s)")  # fmt: skip

            requeue(services)
            started = time.perf_counter()
            report = send_outbound(services, [room])
            side_by_side = time.perf_counter() - started
            sent = report.total(report.sent)
            print(f"side by side ({args.concurrency} at once): {sent} sent in"
                  f" {side_by_side:.1f} s ({sent / side_by_side:.0f}/s),"
                  f" {report.total(report.failed)} failed")  # fmt: skip
            services.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
