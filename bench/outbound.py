"""Sending room answers: one after another (the worker's old way) against side by side
(`calsync sync`'s `send_outbound`, `sync.push_concurrency` at once), on one Radicale.

    .venv/bin/python bench/outbound.py [--count 2000] [--rooms 1] [--concurrency 8]
        [--database URL] [--side-by-side-only] [--sink]

COUNT meetings that each still await the room's answer (PARTSTAT=NEEDS-ACTION), spread
over ROOMS room calendars (one workplace item each), are laid out in Radicale's storage
and read once without sending (`sync --no-push`: COUNT respond events queued). Then the
respond events are sent: first one after another (`run_once`, claiming each just before
it runs), then, queued again, side by side. Each answer is one conditional PUT. Prints
events per second, calsync's own CPU per answer and the server's (Radicale's process).

`--sink` sends the answers, after the read against Radicale, to a loopback server that
takes each conditional PUT at almost no cost (a new ETag, nothing stored): what calsync
alone sends when the calendar service is not the limit. One Radicale process spends
11-14 ms of CPU on each PUT, which caps it near 80 answers a second before calsync runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import update

from calsync.bootstrap import start
from calsync.config import parse
from calsync.radicale_server import RadicaleServer
from calsync.store.tables import EventRow
from calsync.worker.outbound import send_outbound
from calsync.worker.runner import request_sync, run_now, run_once


def room_address(room: int) -> str:
    return f"bench-room-{room}@example.com"


def calendar_of(room: int) -> str:
    return f"/rooms/bench-answers-{room}/"


def meeting(index: int, room: int = 0, rooms: int = 1) -> bytes:
    """Meeting `index` of all, the room's `index // rooms`-th: 8 a day, from 4 January 2027
    (a room of more than 2,600 has some beyond the one-year window, left unanswered)."""
    nth = index // rooms
    day = datetime(2027, 1, 4) + timedelta(days=nth // 8)
    start = day + timedelta(hours=8 + nth % 8)
    end = start + timedelta(hours=1)
    stamp = "%Y%m%dT%H%M%S"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//outbound//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:answer-{index}\r\nDTSTAMP:20261101T120000Z\r\n"
        f"DTSTART:{start.strftime(stamp)}Z\r\nDTEND:{end.strftime(stamp)}Z\r\n"
        f"SUMMARY:Meeting {index}\r\nORGANIZER:mailto:alice@example.com\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{room_address(room)}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def write_storage(folder: Path, count: int, rooms: int = 1) -> None:
    for room in range(rooms):
        collection = folder / "collection-root" / calendar_of(room).strip("/")
        collection.mkdir(parents=True)
        props = {"tag": "VCALENDAR", "D:displayname": f"Bench answers {room}"}
        (collection / ".Radicale.props").write_text(json.dumps(props))
        for index in range(room, count, rooms):
            (collection / f"answer-{index}.ics").write_bytes(meeting(index, room, rooms))


def item(room: int) -> dict[str, object]:
    binding = {
        "connection": "dav",
        "calendar": calendar_of(room),
        "room_address": room_address(room),
    }
    return {"name": f"Bench room {room}", "binding": binding}


class _Sink(BaseHTTPRequestHandler):
    """Takes every conditional PUT: 204 with a new ETag."""

    protocol_version = "HTTP/1.1"
    etags = itertools.count()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("ETag", f'"sink-{next(self.etags)}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def start_sink() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--database", default="")
    parser.add_argument("--side-by-side-only", action="store_true")
    parser.add_argument("--sink", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-") as folder:
        storage = Path(folder) / "radicale"
        write_storage(storage, args.count, args.rooms)
        database = args.database or f"sqlite:///{Path(folder) / 'calsync.db'}"
        with RadicaleServer(storage) as server:

            def settings_for(url: str):
                return parse(
                    {
                        "database": {"url": database},
                        "sync": {"push_concurrency": args.concurrency},
                        "connections": {"dav": {"kind": "caldav", "url": url, "timeout": 600}},
                        "items": [item(room) for room in range(args.rooms)],
                    }
                )

            services = start(settings_for(server.url))
            started = time.perf_counter()
            for room in range(args.rooms):
                read = run_now(services, request_sync(services, f"Bench room {room}"))
                assert read.error == "", read.error
            with services.uow() as uow:
                rooms = [uow.items.get(f"Bench room {room}").id for room in range(args.rooms)]
                queued = uow.events.count_outbound(rooms, services.clock())
            print(f"{queued} respond events queued by the read of {args.count} meetings"
                  f" in {args.rooms} room(s), {time.perf_counter() - started:.1f} s")  # fmt: skip
            radicale = server.pid
            if args.sink:
                services.close()
                sink, url = start_sink()
                services = start(settings_for(url.rstrip("/") + "/"))
                radicale = None
            if not args.side_by_side_only:
                one_after_another(services, radicale)
                requeue(services)
            side_by_side(services, rooms, args.concurrency, radicale)
            services.close()
            if args.sink:
                sink.shutdown()
    sys.exit(0)


def _server_cpu(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else 0.0


def _costs(cpu: float, server: float, sent: int, pid: int | None) -> str:
    per = 1000 / max(sent, 1)
    mine = f"calsync's own CPU {cpu * per:.1f} ms an answer"
    if pid is None:
        return f"{mine} (the sink's is nearly none)"
    return f"{mine}, Radicale's {server * per:.1f} ms"


def one_after_another(services, server_pid: int | None) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    server = _server_cpu(server_pid)
    sent = 0
    while batch := run_once(services, limit=100):
        sent += sum(result.state.value == "processed" for result in batch)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = _server_cpu(server_pid) - server
    print(f"one after another: {sent} sent in {took:.1f} s ({sent / took:.0f}/s);"
          f" {_costs(cpu, server, sent, server_pid)}")  # fmt: skip


def side_by_side(services, rooms: list[int], concurrency: int, server_pid: int | None) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    server = _server_cpu(server_pid)
    report = send_outbound(services, rooms)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = _server_cpu(server_pid) - server
    sent = report.total(report.sent)
    print(f"side by side ({concurrency} at once): {sent} sent in {took:.1f} s"
          f" ({sent / took:.0f}/s), {report.total(report.failed)} failed;"
          f" {_costs(cpu, server, sent, server_pid)}")  # fmt: skip


if __name__ == "__main__":
    main()
