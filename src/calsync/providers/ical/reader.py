"""Reading one iCalendar object into a `CalendarObject`: `read_calendar_object(data, zone, window)`.

Follows RFC 5545 (iCalendar) and the identity rules of RFC 5546 §2.1.5: one object holds
the VEVENTs of one UID, a series master and its overrides (RECURRENCE-ID). Every time
becomes a UTC instant: floating times and all-day dates are read in the item's zone,
nonexistent or repeated local times follow §3.3.5 (offset before a gap, first of an
overlap: zoneinfo's fold=0). Occurrences within the window come from
`recurring_ical_events` at a bounded cost (`recurrence`: a costly rule fails its entry);
an override with RANGE=THISANDFUTURE moves each later instance, which keeps its own
RECURRENCE-ID. An object that does not recur is computed directly, which is most objects
and much cheaper. Whatever is wrong with the text ends as `InvalidCalendarData`, saying
what and where.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from icalendar import Calendar, Event

from calsync.domain.entries import Attendee, CalendarEntry, CalendarObject, Occurrence, Window
from calsync.errors import InvalidCalendarData
from calsync.providers.ical.recurrence import (
    MAX_OCCURRENCES,
    instances,
    refusal,
    rule_problem,
    rules_of,
)
from calsync.providers.ical.this_and_future import Futures, may_show, paid_budget, widened
from calsync.providers.ical.timezones import (
    require_known_zones,
    resolve_zone,
    without_standard_timezones,
)

MAX_OBJECT_BYTES = 1_000_000
_CHECKED_PROPERTIES = frozenset(
    {"UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE"}
    | {"SEQUENCE", "STATUS"}
)
# RFC 5545 §3.6.1: each of these occurs at most once in a VEVENT.
_SINGLE_PROPERTIES = (
    *("UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"),
    *("SEQUENCE", "STATUS", "DTSTAMP", "SUMMARY", "ORGANIZER"),
)
# What icalendar, dateutil and rie raise on input they cannot make sense of.
_UNREADABLE = (ValueError, TypeError, LookupError, AttributeError, RecursionError)


def read_calendar_object(data: bytes, zone: str, window: Window) -> CalendarObject:
    """Read the VEVENTs of one calendar object and its occurrences within `window`."""
    if len(data) > MAX_OBJECT_BYTES:
        raise InvalidCalendarData(f"calendar object is {len(data)} bytes, over the 1 MB limit")
    item_zone = resolve_zone(zone)
    calendar = parse_calendar(without_standard_timezones(data))
    events = _events_of(calendar)
    uid = _single_uid(events)
    require_known_zones(calendar, events)
    try:
        events, entries = _master_first(events, uid, item_zone)
        if entries[0].recurrence_id is None and entries[0].recurring:
            occurrences = _expanded_occurrences(events, entries, item_zone, window)
        else:
            occurrences = _single_occurrences(entries, window)
    except OverflowError as error:  # a time or a shift beyond what a datetime holds
        raise InvalidCalendarData(f"event {uid!r}: a time is out of range: {error}") from error
    return CalendarObject(uid=uid, entries=entries, occurrences=occurrences)


def read_payload(payload: str, zone: str, window: Window) -> CalendarObject:
    """`read_calendar_object` of a payload as a calendar item keeps it (the CalDAV
    adapter's `read_object`)."""
    return read_calendar_object(payload.encode(), zone, window)


def parse_calendar(data: bytes) -> Calendar:
    """The iCalendar text as icalendar's tree; unreadable text is InvalidCalendarData."""
    try:
        return Calendar.from_ical(data)
    except _UNREADABLE as error:
        text = str(error)  # icalendar may quote the whole object
        text = text if len(text) <= 200 else text[:197] + "..."
        raise InvalidCalendarData(f"not valid iCalendar: {text}") from error
    except OSError as error:  # a TZID naming a folder of the tz database, for one
        raise InvalidCalendarData(
            f"not valid iCalendar: a name in it could not be looked up ({error.strerror})"
        ) from error


def _events_of(calendar: Calendar) -> list[Event]:
    events = [c for c in calendar.subcomponents if isinstance(c, Event)]
    if not events:
        raise InvalidCalendarData("calendar object holds no VEVENT")
    for event in events:
        for name, message in event.errors:
            if name in _CHECKED_PROPERTIES:
                raise InvalidCalendarData(f"{_label(event)}: bad {name}: {message}")
        for name in _SINGLE_PROPERTIES:
            given = event.get(name)
            if isinstance(given, list):
                count = len(given)
                raise InvalidCalendarData(f"{_label(event)}: {name} given {count} times")
    return events


def _label(event: Event) -> str:
    uid = event.get("UID")
    if isinstance(uid, list):
        uid = uid[0]
    return f"event {str(uid)!r}" if uid else "event without UID"


def object_uid(data: bytes) -> str:
    """The UID of one calendar object; InvalidCalendarData if it has none or several."""
    return _single_uid(_events_of(parse_calendar(data)))


def _single_uid(events: Sequence[Event]) -> str:
    uids = {str(event.get("UID", "")).strip() for event in events}
    if "" in uids:
        raise InvalidCalendarData("a VEVENT has no UID")
    if len(uids) > 1:
        raise InvalidCalendarData(f"one calendar object holds several UIDs: {sorted(uids)}")
    return uids.pop()


def _master_first(
    events: Sequence[Event], uid: str, item_zone: tzinfo
) -> tuple[list[Event], tuple[CalendarEntry, ...]]:
    """The events and their entries: the master (if any), then overrides in time order."""
    read = [(_entry(event, uid, item_zone), event) for event in events]
    masters = [pair for pair in read if pair[0].recurrence_id is None]
    if len(masters) > 1:
        raise InvalidCalendarData(f"event {uid!r}: several VEVENTs without RECURRENCE-ID")
    overrides = sorted(
        (pair for pair in read if pair[0].recurrence_id is not None),
        key=lambda pair: pair[0].recurrence_id or pair[0].start,
    )
    ordered = masters + overrides
    return [event for _, event in ordered], tuple(entry for entry, _ in ordered)


# Times ---------------------------------------------------------------------------------


def _day_start(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _instant(value: date | datetime, tzid: str | None, item_zone: tzinfo) -> datetime:
    """A DATE or DATE-TIME as a UTC instant (dates: midnight in the item's zone)."""
    if not isinstance(value, datetime):
        return _day_start(value, item_zone)
    if value.tzinfo is None:
        zone = resolve_zone(tzid) if tzid else item_zone
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


_KINDS = {"tuple": "period", "timedelta": "duration", "time": "time of day"}


def _property_instant(event: Event, name: str, item_zone: tzinfo) -> datetime | None:
    prop = event.get(name)
    if prop is None:
        return None
    if not isinstance(prop.dt, date):
        kind = _KINDS.get(type(prop.dt).__name__, type(prop.dt).__name__)
        raise InvalidCalendarData(f"{_label(event)}: {name} is a {kind}, not a date or date-time")
    try:
        return _instant(prop.dt, prop.params.get("TZID"), item_zone)
    except InvalidCalendarData as error:
        raise InvalidCalendarData(f"{_label(event)}: {name}: {error.reason}") from error


def _span(event: Event, item_zone: tzinfo) -> tuple[datetime, datetime, bool]:
    start = _property_instant(event, "DTSTART", item_zone)
    if start is None:
        raise InvalidCalendarData(f"{_label(event)} has no DTSTART")
    all_day = not isinstance(event.get("DTSTART").dt, datetime)
    end = _property_instant(event, "DTEND", item_zone)
    if end is None:
        duration = event.get("DURATION")
        if duration is not None and isinstance(duration.dt, timedelta):
            end = _after(start, duration.dt, all_day, item_zone)
        else:
            end = _after(start, timedelta(days=1 if all_day else 0), all_day, item_zone)
    if end < start:
        raise InvalidCalendarData(f"{_label(event)}: DTEND {end} is before DTSTART {start}")
    return start, end, all_day


def _after(start: datetime, length: timedelta, all_day: bool, zone: tzinfo) -> datetime:
    if not all_day:
        return start + length
    local_day = start.astimezone(zone).date()
    return _day_start(local_day + timedelta(days=length.days), zone) + timedelta(
        seconds=length.seconds
    )


# Entries -------------------------------------------------------------------------------


def _address(value: Any) -> str:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    return text.lower()


def _attendees(event: Event) -> tuple[Attendee, ...]:
    return tuple(
        Attendee(
            address=_address(value),
            name=str(value.params.get("CN", "")),
            partstat=str(value.params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
            cutype=str(value.params.get("CUTYPE", "INDIVIDUAL")).upper(),
        )
        for value in _as_list(event.get("ATTENDEE"))
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _sequence(event: Event) -> int | None:
    value = event.get("SEQUENCE")
    return None if value is None else int(value)


def _dtstamp(event: Event) -> datetime | None:
    """When the organizer's client wrote the entry; a broken value only loses the order."""
    if any(name == "DTSTAMP" for name, _ in event.errors):
        return None
    return _property_instant(event, "DTSTAMP", UTC)


def _is_this_and_future(event: Event) -> bool:
    prop = event.get("RECURRENCE-ID")
    return prop is not None and str(prop.params.get("RANGE", "")).upper() == "THISANDFUTURE"


def _entry(event: Event, uid: str, item_zone: tzinfo) -> CalendarEntry:
    start, end, all_day = _span(event, item_zone)
    organizer = event.get("ORGANIZER")
    return CalendarEntry(
        uid=uid,
        recurrence_id=_property_instant(event, "RECURRENCE-ID", item_zone),
        this_and_future=_is_this_and_future(event),
        sequence=_sequence(event) or 0,
        dtstamp=_dtstamp(event),
        summary=str(event.get("SUMMARY", "")),
        organizer=_address(organizer) if organizer is not None else "",
        attendees=_attendees(event),
        start=start,
        end=end,
        all_day=all_day,
        status=str(event.get("STATUS", "CONFIRMED")).upper(),
        recurring="RRULE" in event or "RDATE" in event,
    )


# Occurrences ---------------------------------------------------------------------------


def _overlaps(start: datetime, end: datetime, window: Window) -> bool:
    if start == end:
        return window.start <= start < window.end
    return start < window.end and end > window.start


def _occurrence(
    entry: CalendarEntry,
    start: datetime,
    end: datetime,
    sequence: int,
    recurrence_id: datetime | None,
) -> Occurrence:
    return Occurrence(
        uid=entry.uid,
        recurrence_id=recurrence_id,
        start=start,
        end=end,
        all_day=entry.all_day,
        summary=entry.summary,
        organizer=entry.organizer,
        sequence=sequence,
    )


def _single_occurrences(entries: Sequence[CalendarEntry], window: Window) -> tuple[Occurrence, ...]:
    """Occurrences of an object that does not recur: the event itself, or its overrides."""
    master = entries[0] if entries[0].recurrence_id is None else None
    if master is not None:
        if master.status == "CANCELLED" or not _overlaps(master.start, master.end, window):
            return ()
        return (_occurrence(master, master.start, master.end, master.sequence, None),)
    return tuple(
        _occurrence(entry, entry.start, entry.end, entry.sequence, entry.recurrence_id)
        for entry in entries
        if entry.status != "CANCELLED" and _overlaps(entry.start, entry.end, window)
    )


def _expanded_occurrences(
    events: Sequence[Event], entries: Sequence[CalendarEntry], item_zone: tzinfo, window: Window
) -> tuple[Occurrence, ...]:
    master, master_event = entries[0], events[0]
    if master.status == "CANCELLED":
        return ()
    _refuse_costly_rules(master_event, master, window)
    pairs = list(zip(entries, events, strict=True))
    overrides = {entry.recurrence_id: (entry, event) for entry, event in pairs}
    futures = Futures(pair for pair in pairs[1:] if pair[0].this_and_future)
    master_sequence = _sequence(master_event) or 0
    found: dict[datetime, Occurrence] = {}
    budget = paid_budget(futures, _label(master_event))
    span = widened(window, futures.pairs)
    shown = [master_event] + [event for entry, event in pairs[1:] if may_show(entry, span)]
    for instance in instances(shown, item_zone, span, _label(master_event), budget):
        start = _instant(instance.start, None, item_zone)
        end = _instant(instance.end, None, item_zone)
        recurrence_id = start  # the instance's original start, unless an override names it
        source = _override_of(instance, overrides, item_zone)
        if source is not None:
            recurrence_id = source[0].recurrence_id or start
        else:
            source = futures.governing(start)
            if source is not None:
                start, end = _rescheduled(instance.start, source, item_zone)
        if source is None:
            entry, sequence = master, master_sequence
        else:
            entry, override_sequence = source[0], _sequence(source[1])
            sequence = master_sequence if override_sequence is None else override_sequence
        if entry.status == "CANCELLED" or not _overlaps(start, end, window):
            continue
        found[recurrence_id] = _occurrence(entry, start, end, sequence, recurrence_id)
        if len(found) > MAX_OCCURRENCES:
            raise InvalidCalendarData(
                f"event {master.uid!r} has more than {MAX_OCCURRENCES} occurrences in the window"
            )
    return tuple(sorted(found.values(), key=lambda o: (o.start, o.recurrence_id or o.start)))


def _refuse_costly_rules(event: Event, master: CalendarEntry, window: Window) -> None:
    """Refuse, before expanding, a rule with more instances in the window than the cap."""
    rules = rules_of(event)
    reason = next(filter(None, map(rule_problem, rules)), None)
    reason = reason or refusal(rules, master.start, window)
    if reason is not None:
        raise InvalidCalendarData(f"{_label(event)}: {reason}")


# RANGE=THISANDFUTURE (RFC 5545 §3.8.4.4) ------------------------------------------------
# An override with this range changes its own instance and every later one: each later
# instance keeps its identity (its own RECURRENCE-ID, the original start) and takes the
# override's time shift, length and properties. rie folds those instances into the
# override itself, so the range is taken off before expanding and applied here.


def _rescheduled(
    original: date | datetime, source: tuple[CalendarEntry, Event], item_zone: tzinfo
) -> tuple[datetime, datetime]:
    """An instance moved as its THISANDFUTURE override moved its own, in wall-clock time."""
    entry = source[0]
    if isinstance(original, datetime) and original.tzinfo is not None:
        zone = original.tzinfo
        moved = entry.start.astimezone(zone).replace(tzinfo=None)
        was = (entry.recurrence_id or entry.start).astimezone(zone).replace(tzinfo=None)
        local = original.replace(tzinfo=None) + (moved - was)
        start = _instant(local.replace(tzinfo=zone), None, item_zone)
    else:
        start = _instant(original, None, item_zone) + (
            entry.start - (entry.recurrence_id or entry.start)
        )
    length = entry.end - entry.start
    if entry.all_day:
        return start, _after(
            start, timedelta(days=round(length / timedelta(days=1))), True, item_zone
        )
    return start, start + length


def _override_of(
    instance: Any,
    overrides: dict[datetime | None, tuple[CalendarEntry, Event]],
    item_zone: tzinfo,
) -> tuple[CalendarEntry, Event] | None:
    """The override an instance came from, if any, matched by its RECURRENCE-ID instant.

    rie names an instance by its RECURRENCE-ID in UTC without tzinfo (a date becomes
    midnight); every time was given a zone before expansion, so that is a UTC instant,
    or, for all-day series, the local date.
    """
    recurrence_ids = instance.recurrence_ids
    if not recurrence_ids:
        return None
    named: datetime = recurrence_ids[0]
    return overrides.get(named.replace(tzinfo=UTC)) or overrides.get(
        _day_start(named.date(), item_zone)
    )
