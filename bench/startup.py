"""How long a command that reads one record takes, from the shell: the wall time of each
command (median of --repeat runs, each a new process), on a SQLite store holding a few
records and a configuration of --items bound rooms.

    .venv/bin/python bench/startup.py [--items 500] [--repeat 5] [--database URL]

The target (issue 6): a command that reads one record answers in under 0.5 s, and `init`
on an existing database is fast too. `--help` is the floor: the interpreter, typer and
rich, nothing of the store. The CPU time is printed beside the wall time: on a shared
machine the wall time also counts the waits for a core.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

COMMANDS = [
    ["--help"],
    ["init"],
    ["events", "show", "{event}"],
    ["reservations", "list", "--limit", "1"],
    ["deltas", "list", "--limit", "1"],
]


def write_config(folder: Path, items: int, database: str) -> Path:
    lines = [
        f'[database]\nurl = "{database}"\n',
        '[connections.dav]\nkind = "caldav"\nurl = "http://127.0.0.1:9/"\n',
    ]
    for number in range(items):
        lines.append(
            f'[[items]]\nname = "Room {number}"\ntime_zone = "Europe/Berlin"\n'
            f'binding = {{ connection = "dav", calendar = "/rooms/{number}/" }}\n'
        )
    path = folder / "calsync.toml"
    path.write_text("\n".join(lines))
    return path


def calsync(folder: Path, *args: str) -> tuple[float, float]:
    """The wall time and the CPU time (user + system) of one run: on a busy machine the
    second says what the command costs when the first is inflated by waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "calsync", *args],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "150"},
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def seed(config: Path) -> int:
    """One event, one synchronization and one reservation, as a running store has."""
    from calsync.bootstrap import build
    from calsync.config import load
    from calsync.domain.events import Action
    from calsync.store.tables import SynchronizationRow
    from calsync.sync import reservations as reservation_service

    services = build(load(config))
    now = datetime.now(UTC)
    try:
        with services.uow() as uow:
            item = uow.items.get("Room 0")
            event = uow.events.add(item.id, Action.read, now, {"full": False})
            uow.synchronizations.add(
                SynchronizationRow(
                    item_id=item.id, started_at=now, mode="full", outcome="succeeded"
                )
            )
            uow.commit()
        reservation_service.create(
            services, "Room 0", now.replace(hour=9), now.replace(hour=10), "Plan", ""
        )
        return event.id
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", help="default: a SQLite file in a temporary folder")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        database = options.database or f"sqlite:///{folder / 'calsync.db'}"
        config = write_config(folder, options.items, database)
        calsync(folder, "init")
        event = seed(config)
        print(f"{options.items} items, {database.split(':')[0]}, median of {options.repeat}")
        for command in COMMANDS:
            args = [part.format(event=event) for part in command]
            runs = [calsync(folder, *args) for _ in range(options.repeat)]
            wall = statistics.median(run[0] for run in runs)
            cpu = statistics.median(run[1] for run in runs)
            print(f"{wall:6.3f} s wall {cpu:6.3f} s CPU  calsync {' '.join(args)}")


if __name__ == "__main__":
    main()
