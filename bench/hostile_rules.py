"""Time and memory that reading one hostile recurrence rule costs.

Each rule is read in a fresh process (`read_calendar_object`, as a synchronization reads
an entry), so that the peak resident memory is the rule's own. Prints, per rule, the
outcome, the wall and CPU seconds of the read and the growth of the peak resident set.

    python bench/hostile_rules.py            # every rule
    python bench/hostile_rules.py yearly     # the rules whose name contains "yearly"
"""

from __future__ import annotations

import json
import subprocess
import sys

RULES = {
    "yearly-full-by-lists": (
        "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY="
        + ",".join(str(d) for d in range(1, 32))
        + ";BYHOUR="
        + ",".join(str(h) for h in range(24))
        + ";BYMINUTE="
        + ",".join(str(m) for m in range(60))
        + ";BYSECOND="
        + ",".join(str(s) for s in range(60))
    ),
    "secondly-february-31": "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=31",
    # Variants a CalDAV server (Radicale) stores without expanding them itself.
    "yearly-by-lists-to-the-minute": (
        "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY="
        + ",".join(str(d) for d in range(1, 32))
        + ";BYHOUR="
        + ",".join(str(h) for h in range(24))
        + ";BYMINUTE="
        + ",".join(str(m) for m in range(60))
    ),
    "secondly": "FREQ=SECONDLY",
    "yearly-on-30-february": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=9",
    # Looks cheap to the estimate (about one instance); the step budget stops its walk.
    "daily-on-30-february": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
}

_CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from calsync.domain.calendar_objects import read_calendar_object
from calsync.domain.entries import Window
from calsync.errors import InvalidCalendarData
rule = sys.argv[1]
data = (
    "BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\nPRODID:-//bench//EN\\r\\nBEGIN:VEVENT\\r\\n"
    "UID:hostile\\r\\nDTSTAMP:20261101T120000Z\\r\\nDTSTART:20261101T090000Z\\r\\n"
    f"DTEND:20261101T100000Z\\r\\nRRULE:{rule}\\r\\nEND:VEVENT\\r\\nEND:VCALENDAR\\r\\n"
).encode()
window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
wall, cpu = time.perf_counter(), time.process_time()
try:
    outcome = f"{len(read_calendar_object(data, 'UTC', window).occurrences)} occurrences"
except InvalidCalendarData as error:
    outcome = f"InvalidCalendarData: {error.reason}"
print(json.dumps({
    "outcome": outcome,
    "wall_s": round(time.perf_counter() - wall, 3),
    "cpu_s": round(time.process_time() - cpu, 3),
    "peak_rss_growth_mb": round(
        (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1
    ),
}))
"""


def measure(rule: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, rule], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    wanted = sys.argv[1:] or [""]
    for name, rule in RULES.items():
        if any(word in name for word in wanted):
            print(name, json.dumps(measure(rule)), flush=True)


if __name__ == "__main__":
    main()
