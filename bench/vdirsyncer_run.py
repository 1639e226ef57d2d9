"""vdirsyncer as a yardstick: sync the bench calendar into a folder and time it.

`find_or_install` looks for `vdirsyncer` on PATH, then in bench/.work/vdirsyncer-venv, and
otherwise tries `pip install vdirsyncer` into that venv. `Vdirsyncer.sync()` runs one
`vdirsyncer sync` (read-only CalDAV -> filesystem) under `/usr/bin/time -v` when present, for
the peak RSS; otherwise the RSS comes from `RUSAGE_CHILDREN` (the largest child so far).
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")


class Failed(RuntimeError):
    """vdirsyncer exited with an error; the message is its own error line."""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    files: int


def find_or_install(work: Path, install: bool) -> Path | None:
    found = shutil.which("vdirsyncer")
    if found:
        return Path(found)
    venv = work / "vdirsyncer-venv"
    binary = venv / "bin" / "vdirsyncer"
    if binary.exists() or not install:
        return binary if binary.exists() else None
    print("vdirsyncer: installing into", venv, file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "vdirsyncer"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"vdirsyncer: could not be installed ({exc})", file=sys.stderr)
        return None
    return binary if binary.exists() else None


class Vdirsyncer:
    """One pair: the CalDAV calendar at `url` (read-only) into `folder/calendar/`."""

    def __init__(self, binary: Path, folder: Path, url: str) -> None:
        self.binary = binary
        self.folder = folder
        self.target = folder / "calendar"
        self.target.mkdir(parents=True, exist_ok=True)
        self.config = folder / "config"
        self.config.write_text(_config(folder, url), encoding="utf-8")

    def discover(self) -> None:
        self._run(["discover"], timed=False)

    def sync(self) -> Run:
        return self._run(["sync"], timed=True)

    def _run(self, command: list[str], timed: bool) -> Run:
        argv = [str(self.binary), "--verbosity", "WARNING", "-c", str(self.config), *command]
        use_time = timed and GNU_TIME.exists()
        if use_time:
            argv = [str(GNU_TIME), "-v", *argv]
        began = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, input="")
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
            raise Failed(f"vdirsyncer {' '.join(command)}: {(errors or ['?'])[0]}")
        rss = _gnu_time_rss(done.stderr) if use_time else _children_rss()
        return Run(seconds, rss, sum(1 for _ in self.target.glob("*.ics")))


def _config(folder: Path, url: str) -> str:
    return f"""[general]
status_path = "{folder / "status"}/"

[pair bench]
a = "bench_remote"
b = "bench_local"
collections = null
conflict_resolution = "a wins"

[storage bench_remote]
type = "caldav"
url = "{url}"
read_only = true

[storage bench_local]
type = "filesystem"
path = "{folder / "calendar"}/"
fileext = ".ics"
"""


def _gnu_time_rss(stderr: str) -> float:
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(match.group(1)) / 1024 if match else float("nan")


def _children_rss() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
