"""Time and memory that reading one hostile calendar entry costs.

Each entry is read in a fresh process (`read_calendar_object`, as a synchronization reads
an entry), so that the peak resident memory is the entry's own. Prints, per entry, the
outcome, the wall and CPU seconds of the read and the growth of the peak resident set.
Target: each fails or succeeds within 1 s of CPU and 100 MB.

    python bench/hostile_rules.py            # every entry
    python bench/hostile_rules.py yearly     # the entries whose name contains "yearly"
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

_FULL_DAYS = "BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY=" + ",".join(
    str(d) for d in range(1, 32)
)
_FULL_TIMES = (
    "BYHOUR="
    + ",".join(str(h) for h in range(24))
    + ";BYMINUTE="
    + ",".join(str(m) for m in range(60))
    + ";BYSECOND="
    + ",".join(str(s) for s in range(60))
)

RULES = {
    "yearly-full-by-lists": f"FREQ=YEARLY;{_FULL_DAYS};{_FULL_TIMES}",
    "secondly-february-31": "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=31",
    # Variants a CalDAV server (Radicale) stores without expanding them itself.
    "yearly-by-lists-to-the-minute": (
        f"FREQ=YEARLY;{_FULL_DAYS};BYHOUR="
        + ",".join(str(h) for h in range(24))
        + ";BYMINUTE="
        + ",".join(str(m) for m in range(60))
    ),
    "secondly": "FREQ=SECONDLY",
    "yearly-on-30-february": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=9",
    # Looks cheap to the estimate (about one instance); the step budget stops its walk.
    "daily-on-30-february": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
}


def _event(lines: str) -> str:
    return f"BEGIN:VEVENT\r\n{lines.replace(chr(10), chr(13) + chr(10))}\r\nEND:VEVENT\r\n"


def _calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
        + "".join(_event(e) for e in events)
        + "END:VCALENDAR\r\n"
    )


def _one_rule(rule: str, start: str = "20261101T090000Z") -> str:
    return _calendar(
        f"UID:hostile\nDTSTAMP:20261101T120000Z\nDTSTART:{start}\nDURATION:PT1H\nRRULE:{rule}"
    )


def _late_in_the_year(rule_lines: int) -> str:
    """COUNT keeps the estimate low; dateutil walks the year's day x time combinations
    up to DTSTART on 31 December first, for each line."""
    rules = [
        f"RRULE:FREQ=YEARLY;COUNT={n};{_FULL_DAYS};{_FULL_TIMES}" for n in range(1, rule_lines + 1)
    ]
    return _calendar(
        "UID:count-one\nDTSTAMP:20261101T120000Z\nDTSTART:20261231T235959Z\n"
        "DTEND:20270101T000000Z\n" + "\n".join(rules)
    )


def _this_and_future_chain(count: int = 5000) -> str:
    """An hourly series and `count` THISANDFUTURE overrides, each a year before."""
    events = [
        "UID:chain\nDTSTAMP:20261101T120000Z\nDTSTART:20261101T080000Z\n"
        "DTEND:20261101T083000Z\nRRULE:FREQ=HOURLY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18,19"
    ]
    base = datetime(2000, 1, 1, 8, tzinfo=UTC)
    for i in range(count):
        original = base + timedelta(hours=i)
        moved = original - timedelta(days=366)
        events.append(
            f"UID:chain\nRECURRENCE-ID;RANGE=THISANDFUTURE:{original:%Y%m%dT%H%M%SZ}\n"
            f"DTSTART:{moved:%Y%m%dT%H%M%SZ}\nDURATION:PT30M"
        )
    return _calendar(*events)


def entries() -> dict[str, str]:
    """Every hostile entry by name: one rule each, then the review's entries."""
    found = {name: _one_rule(rule) for name, rule in RULES.items()}
    # Ends before the window (estimate 0), never matches; 3,600 times made a day from 1990.
    found["hourly-every-second-of-30-february-until-2026-from-1990"] = _one_rule(
        "FREQ=HOURLY;UNTIL=20261001T000000Z;BYMONTH=2;BYMONTHDAY=30;"
        + _FULL_TIMES.split(";", 1)[1],
        start="19900101T000000Z",
    )
    found["count-one-on-31-december"] = _late_in_the_year(1)
    found["count-one-on-31-december-3-lines"] = _late_in_the_year(3)
    found["5000-this-and-future-overrides"] = _this_and_future_chain()
    return found


_CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from calsync.providers.ical.reader import read_calendar_object
from calsync.domain.entries import Window
from calsync.errors import InvalidCalendarData
data = sys.stdin.buffer.read()
window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
wall, cpu = time.perf_counter(), time.process_time()
try:
    outcome = f"{len(read_calendar_object(data, 'UTC', window).occurrences)} occurrences"
except InvalidCalendarData as error:
    outcome = f"InvalidCalendarData: {error.reason}"
print(json.dumps({
    "bytes": len(data),
    "outcome": outcome[:160],
    "wall_s": round(time.perf_counter() - wall, 3),
    "cpu_s": round(time.process_time() - cpu, 3),
    "peak_rss_growth_mb": round(
        (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1
    ),
}))
"""


def measure(data: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=data.encode(),
        capture_output=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    wanted = sys.argv[1:] or [""]
    for name, data in entries().items():
        if any(word in name for word in wanted):
            print(name, json.dumps(measure(data)), flush=True)


if __name__ == "__main__":
    main()
