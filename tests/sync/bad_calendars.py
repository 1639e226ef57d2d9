"""A corpus of real-world oddities in calendar objects, each as the server would send it.

Each entry is (name, payload). Some are wrong (no DTSTART, DTEND before DTSTART, an
unknown TZID, a broken RRULE, broken line folding, bytes that are not UTF-8, an empty
body); some are only odd and readable. Either way the reader must end with a calendar
object or an `InvalidCalendarData` that says what was wrong, never another exception.
"""

from __future__ import annotations

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//corpus//EN\r\n"
TAIL = "END:VCALENDAR\r\n"
GOOD_EVENT = (
    "BEGIN:VEVENT\r\nUID:good\r\nDTSTAMP:20261101T120000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:20261203T100000\r\nDTEND;TZID=Europe/Berlin:20261203T110000\r\n"
    "SUMMARY:Planning\r\nORGANIZER:mailto:alice@example.com\r\n"
    "ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:room-a@example.com\r\nEND:VEVENT\r\n"
)
GOOD = (HEAD + GOOD_EVENT + TAIL).encode()


def event(*lines: str, uid: str = "odd") -> bytes:
    body = "".join(f"{line}\r\n" for line in lines)
    return (
        HEAD
        + f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T120000Z\r\n{body}END:VEVENT\r\n"
        + TAIL
    ).encode()


def with_good(*lines: str) -> bytes:
    """The good event with `lines` added."""
    return GOOD.replace(b"SUMMARY:Planning\r\n", "".join(f"{x}\r\n" for x in lines).encode())


START = "DTSTART:20261203T100000Z"
END = "DTEND:20261203T110000Z"

CORPUS: list[tuple[str, bytes]] = [
    # Structure
    ("empty body", b""),
    ("only whitespace", b"   \r\n\r\n"),
    ("not iCalendar", b"<html><body>502 Bad Gateway</body></html>"),
    ("json", b'{"error": "oops"}'),
    ("no END:VCALENDAR", GOOD.replace(TAIL.encode(), b"")),
    ("no END:VEVENT", GOOD.replace(b"END:VEVENT\r\n", b"")),
    ("END without BEGIN", b"END:VEVENT\r\n" + GOOD),
    ("nested VCALENDAR", (HEAD + HEAD + GOOD_EVENT + TAIL + TAIL).encode()),
    ("two VCALENDARs", GOOD + GOOD),
    ("mismatched END", GOOD.replace(b"END:VEVENT", b"END:VTODO")),
    ("no VEVENT", (HEAD + TAIL).encode()),
    (
        "only a VTODO",
        (
            HEAD + "BEGIN:VTODO\r\nUID:t\r\nDTSTART:20261203T100000Z\r\nEND:VTODO\r\n" + TAIL
        ).encode(),
    ),
    ("0-length VEVENT", (HEAD + "BEGIN:VEVENT\r\nEND:VEVENT\r\n" + TAIL).encode()),
    ("a VEVENT of only a UID", event()),
    ("truncated mid line", GOOD[: len(GOOD) // 2]),
    ("truncated mid BEGIN", GOOD[:9]),
    ("a line without a colon", GOOD.replace(b"SUMMARY:Planning", b"SUMMARY Planning")),
    ("a line that is only a colon", GOOD.replace(b"SUMMARY:Planning", b":")),
    ("a property with an empty name", GOOD.replace(b"SUMMARY:Planning", b":Planning")),
    ("a parameter without a value", GOOD.replace(b"DTSTART;TZID=", b"DTSTART;TZID;X=")),
    (
        "an unterminated quoted parameter",
        GOOD.replace(b"TZID=Europe/Berlin:20261203T1", b'TZID="Europe/Berlin:20261203T1'),
    ),
    ("NUL bytes", GOOD.replace(b"Planning", b"Plan\x00ning")),
    ("a 4000-character line", with_good("SUMMARY:" + "x" * 4000)),
    ("deeply nested components", (HEAD + "BEGIN:X\r\n" * 300 + "END:X\r\n" * 300 + TAIL).encode()),
    # Line endings and folding
    ("LF line endings", GOOD.replace(b"\r\n", b"\n")),
    ("CR line endings", GOOD.replace(b"\r\n", b"\r")),
    (
        "broken folding: continuation without space",
        GOOD.replace(b"SUMMARY:Plan", b"SUMMARY:Plan\r\nning:x"),
    ),
    ("broken folding: fold inside the name", GOOD.replace(b"DTSTART;", b"DTST\r\n ART;")),
    ("fold with a tab", GOOD.replace(b"SUMMARY:Plan", b"SUMMARY:Plan\r\n\tning")),
    ("fold right after BEGIN", GOOD.replace(b"BEGIN:VEVENT", b"BEGIN:VEV\r\n ENT")),
    ("fold inside a date", GOOD.replace(b":20261203T100000", b":2026120\r\n 3T100000")),
    ("a lone continuation line first", b" folded\r\n" + GOOD),
    ("blank lines everywhere", GOOD.replace(b"\r\n", b"\r\n\r\n")),
    # Encodings
    ("latin-1 summary", GOOD.replace(b"Planning", "Besprechung Gr\xfc\xdfe".encode("latin-1"))),
    ("invalid UTF-8 sequence", GOOD.replace(b"Planning", b"\xff\xfe\xc3\x28")),
    ("UTF-16 with BOM", GOOD.decode().encode("utf-16")),
    ("UTF-8 BOM", b"\xef\xbb\xbf" + GOOD),
    ("non-UTF-8 in a UID", GOOD.replace(b"UID:good", b"UID:g\xe9\xff")),
    (
        "non-UTF-8 in a TZID",
        GOOD.replace(b"TZID=Europe/Berlin:20261203T10", b"TZID=Europe/B\xe9rlin:20261203T10"),
    ),
    # Times
    ("missing DTSTART", event(END)),
    ("DTEND before DTSTART", event(START, "DTEND:20261203T090000Z")),
    ("DTEND a year before DTSTART", event(START, "DTEND:20251203T090000Z")),
    ("DTSTART a date, DTEND a date-time", event("DTSTART;VALUE=DATE:20261203", END)),
    ("DTSTART a date-time, DTEND a date", event(START, "DTEND;VALUE=DATE:20261204")),
    ("DTSTART nonsense", event("DTSTART:tomorrow at ten", END)),
    ("DTSTART empty", event("DTSTART:", END)),
    ("DTSTART month 13", event("DTSTART:20261303T100000Z", END)),
    ("DTSTART 30 February", event("DTSTART:20270230T100000Z", "DTEND:20270230T110000Z")),
    ("DTSTART hour 25", event("DTSTART:20261203T250000Z", END)),
    ("DTSTART year 0", event("DTSTART:00000101T000000Z")),
    ("DTSTART year 9999", event("DTSTART:99991231T230000Z", "DTEND:99991231T235959Z")),
    ("DTSTART year 1", event("DTSTART:00010101T000000Z", "RRULE:FREQ=YEARLY")),
    ("DTEND at the end of time", event(START, "DTEND:99991231T235959Z")),
    ("two DTSTARTs", event(START, "DTSTART:20261204T100000Z", END)),
    ("DTSTART as a period", event("DTSTART;VALUE=PERIOD:20261203T100000Z/PT1H")),
    ("DURATION negative", event(START, "DURATION:-PT1H")),
    ("DURATION nonsense", event(START, "DURATION:one hour")),
    ("DURATION of 10000 weeks", event(START, "DURATION:P10000W")),
    ("DURATION and DTEND", event(START, END, "DURATION:PT5H")),
    ("unknown TZID", event("DTSTART;TZID=Mars/Olympus_Mons:20261203T100000")),
    ("empty TZID", event("DTSTART;TZID=:20261203T100000")),
    ("TZID that is a path", event("DTSTART;TZID=../../etc/passwd:20261203T100000")),
    ("TZID that is a directory", event("DTSTART;TZID=Europe:20261203T100000")),
    ("TZID on a UTC time", event("DTSTART;TZID=Europe/Berlin:20261203T100000Z")),
    (
        "VTIMEZONE without rules",
        (
            HEAD
            + "BEGIN:VTIMEZONE\r\nTZID:Empty\r\nEND:VTIMEZONE\r\n"
            + "BEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Empty:20261203T100000\r\nEND:VEVENT\r\n"
            + TAIL
        ).encode(),
    ),
    (
        "VTIMEZONE with a bad offset",
        (
            HEAD
            + "BEGIN:VTIMEZONE\r\nTZID:Bad\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+9999\r\nTZOFFSETTO:banana\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
            + "BEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Bad:20261203T100000\r\nEND:VEVENT\r\n"
            + TAIL
        ).encode(),
    ),
    (
        "VTIMEZONE with a hostile RRULE",
        (
            HEAD
            + "BEGIN:VTIMEZONE\r\nTZID:Busy\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=31\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
            + "BEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Busy:20261203T100000\r\nEND:VEVENT\r\n"
            + TAIL
        ).encode(),
    ),
    ("RECURRENCE-ID nonsense", event(START, "RECURRENCE-ID:sometime")),
    (
        "RECURRENCE-ID with an unknown range",
        event(START, "RECURRENCE-ID;RANGE=THISANDPRIOR:20261203T100000Z"),
    ),
    (
        "THISANDFUTURE without a master",
        event(START, "RECURRENCE-ID;RANGE=THISANDFUTURE:20261203T100000Z"),
    ),
    ("EXDATE nonsense", event(START, "RRULE:FREQ=DAILY;COUNT=3", "EXDATE:yesterday")),
    ("RDATE nonsense", event(START, "RDATE:soon")),
    (
        "RDATE with a period ending before it starts",
        event(
            START,
            "RRULE:FREQ=DAILY;COUNT=2",
            "RDATE;VALUE=PERIOD:20261205T100000Z/20261205T090000Z",
        ),
    ),
    (
        "EXDATE in an unknown zone",
        event(START, "RRULE:FREQ=DAILY;COUNT=3", "EXDATE;TZID=Nowhere/Land:20261204T100000"),
    ),
    # Recurrence rules
    ("RRULE without FREQ", event(START, "RRULE:COUNT=3")),
    ("RRULE unknown FREQ", event(START, "RRULE:FREQ=FORTNIGHTLY")),
    ("RRULE empty", event(START, "RRULE:")),
    ("RRULE garbage", event(START, "RRULE:every tuesday")),
    ("RRULE negative COUNT", event(START, "RRULE:FREQ=DAILY;COUNT=-5")),
    ("RRULE COUNT zero", event(START, "RRULE:FREQ=DAILY;COUNT=0")),
    ("RRULE huge COUNT", event(START, "RRULE:FREQ=DAILY;COUNT=99999999999999999999")),
    ("RRULE INTERVAL zero", event(START, "RRULE:FREQ=DAILY;INTERVAL=0")),
    ("RRULE negative INTERVAL", event(START, "RRULE:FREQ=DAILY;INTERVAL=-1")),
    ("RRULE huge INTERVAL", event(START, "RRULE:FREQ=SECONDLY;INTERVAL=99999999999")),
    ("RRULE BYMONTH 13", event(START, "RRULE:FREQ=YEARLY;BYMONTH=13")),
    ("RRULE BYMONTHDAY 0", event(START, "RRULE:FREQ=MONTHLY;BYMONTHDAY=0")),
    ("RRULE BYHOUR 24", event(START, "RRULE:FREQ=DAILY;BYHOUR=24")),
    ("RRULE BYDAY nonsense", event(START, "RRULE:FREQ=WEEKLY;BYDAY=XX")),
    ("RRULE BYDAY 99th Monday", event(START, "RRULE:FREQ=MONTHLY;BYDAY=99MO")),
    ("RRULE BYSETPOS 0", event(START, "RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0")),
    ("RRULE BYWEEKNO 60", event(START, "RRULE:FREQ=YEARLY;BYWEEKNO=60")),
    ("RRULE UNTIL nonsense", event(START, "RRULE:FREQ=DAILY;UNTIL=never")),
    ("RRULE UNTIL before DTSTART", event(START, "RRULE:FREQ=DAILY;UNTIL=20200101T000000Z")),
    ("RRULE UNTIL and COUNT", event(START, "RRULE:FREQ=DAILY;UNTIL=20261210T000000Z;COUNT=3")),
    ("RRULE floating UNTIL on a UTC start", event(START, "RRULE:FREQ=DAILY;UNTIL=20261210T000000")),
    (
        "RRULE date UNTIL on a zoned start",
        event("DTSTART;TZID=Europe/Berlin:20261203T100000", "RRULE:FREQ=DAILY;UNTIL=20261210"),
    ),
    (
        "RRULE twice UNTIL",
        event(START, "RRULE:FREQ=DAILY;UNTIL=20261210T000000Z;UNTIL=20261211T000000Z"),
    ),
    ("RRULE repeated FREQ", event(START, "RRULE:FREQ=DAILY;FREQ=YEARLY")),
    (
        "RRULE hourly interval never meeting BYHOUR",
        event(START, "RRULE:FREQ=HOURLY;INTERVAL=24;BYHOUR=3"),
    ),
    ("RRULE secondly forever", event(START, "RRULE:FREQ=SECONDLY")),
    ("RRULE on 31 February", event(START, "RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=31")),
    (
        "RRULE every second of every day",
        event(
            START,
            "RRULE:FREQ=DAILY;BYHOUR="
            + ",".join(map(str, range(24)))
            + ";BYMINUTE="
            + ",".join(map(str, range(60)))
            + ";BYSECOND="
            + ",".join(map(str, range(60))),
        ),
    ),
    ("RRULE ten times", event(START, *[f"RRULE:FREQ=DAILY;COUNT={n + 1}" for n in range(10)])),
    (
        "RRULE on an all-day event with a time UNTIL",
        event("DTSTART;VALUE=DATE:20261203", "RRULE:FREQ=DAILY;UNTIL=20261210T100000Z"),
    ),
    # Identity
    ("no UID", (HEAD + f"BEGIN:VEVENT\r\n{START}\r\nEND:VEVENT\r\n" + TAIL).encode()),
    ("empty UID", event(START, uid="")),
    ("whitespace UID", event(START, uid="   ")),
    ("two UIDs in one VEVENT", event(START, "UID:other")),
    (
        "duplicate UIDs with different case",
        (
            HEAD
            + f"BEGIN:VEVENT\r\nUID:Meeting-1\r\n{START}\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:meeting-1\r\n{START}\r\nEND:VEVENT\r\n"
            + TAIL
        ).encode(),
    ),
    (
        "two masters of one UID",
        (
            HEAD
            + f"BEGIN:VEVENT\r\nUID:m\r\n{START}\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTART:20261204T100000Z\r\nEND:VEVENT\r\n"
            + TAIL
        ).encode(),
    ),
    (
        "two overrides of one instance",
        (
            HEAD
            + f"BEGIN:VEVENT\r\nUID:m\r\n{START}\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n"
            + "BEGIN:VEVENT\r\nUID:m\r\nRECURRENCE-ID:20261204T100000Z\r\nDTSTART:20261204T120000Z\r\nEND:VEVENT\r\n"
            * 2
            + TAIL
        ).encode(),
    ),
    (
        "an override of an instance that does not exist",
        (
            HEAD
            + f"BEGIN:VEVENT\r\nUID:m\r\n{START}\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:m\r\nRECURRENCE-ID:20300101T100000Z\r\nDTSTART:20261220T120000Z\r\nEND:VEVENT\r\n"
            + TAIL
        ).encode(),
    ),
    # Other properties
    ("SEQUENCE nonsense", event(START, "SEQUENCE:latest")),
    ("SEQUENCE negative", event(START, "SEQUENCE:-3")),
    ("SEQUENCE huge", event(START, "SEQUENCE:99999999999999999999999")),
    ("STATUS unknown", event(START, "STATUS:MAYBE")),
    ("STATUS empty", event(START, "STATUS:")),
    ("DTSTAMP nonsense", event(START).replace(b"DTSTAMP:20261101T120000Z", b"DTSTAMP:now")),
    ("ORGANIZER empty", event(START, "ORGANIZER:")),
    ("ORGANIZER with odd parameters", event(START, 'ORGANIZER;CN="A;B:C":mailto:a@example.com')),
    ("ATTENDEE without address", event(START, "ATTENDEE;CUTYPE=ROOM:")),
    (
        "ATTENDEE PARTSTAT lowercase and odd",
        event(START, "ATTENDEE;PARTSTAT=sure;CUTYPE=robot:mailto:r@example.com"),
    ),
    ("5000 attendees", event(START, *[f"ATTENDEE:mailto:p{n}@example.com" for n in range(5000)])),
    ("X-properties only", event(START, "X-FOO;X-BAR=1:baz", "X-EMPTY:")),
    ("a VALARM with nonsense", event(START, "BEGIN:VALARM", "TRIGGER:whenever", "END:VALARM")),
    ("an unknown VALUE type", event("DTSTART;VALUE=BANANA:20261203T100000Z")),
    ("CALSCALE not Gregorian", GOOD.replace(b"VERSION:2.0", b"VERSION:2.0\r\nCALSCALE:JULIAN")),
    (
        "VERSION 1.0 (vCalendar)",
        (
            b"BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nUID:v1\r\nDTSTART:20261203T100000Z\r\n"
            b"RRULE:W1 MO #5\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    ),
]
