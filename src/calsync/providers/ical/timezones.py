"""Time zones in calendar data: `resolve_zone(tzid)`, `require_known_zones(calendar, events)`,
`without_standard_timezones(data)` and `with_zoned_times(event, item_zone)`.

RFC 5545 §3.2.19 makes a TZID opaque text that names a VTIMEZONE in the same object.
In practice it is an IANA name ("Europe/Berlin") or, from Outlook and Exchange, a
Windows name ("W. Europe Standard Time"). Windows names are translated with the CLDR
windowsZones table that icalendar ships. A name that is neither is an error: assuming
UTC would silently move a meeting by hours.

When icalendar already built a `tzinfo` from a VTIMEZONE in the object, the reader uses
that one; this module is for the names it could not resolve and for an item's own zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event
from icalendar.prop import vDDDLists, vDDDTypes
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsync.errors import InvalidCalendarData


@lru_cache(maxsize=512)
def resolve_zone(tzid: str) -> tzinfo:
    """Return the zone an IANA or Windows TZID names; raise `InvalidCalendarData` if none."""
    name = tzid.strip()
    zone = _iana_zone(name)
    if zone is not None:
        return zone
    olson = WINDOWS_TO_OLSON.get(name)
    if olson is not None:
        zone = _iana_zone(olson)
        if zone is not None:
            return zone
    raise InvalidCalendarData(
        f"unknown time zone {tzid!r}: neither an IANA name nor a mapped Windows name"
    )


def _iana_zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a valid key (absolute or relative path); OSError: a directory.
        return None


@lru_cache(maxsize=512)
def is_iana_zone(tzid: bytes | str) -> bool:
    """True if the tz database defines this name."""
    name = tzid.decode("utf-8", "replace") if isinstance(tzid, bytes) else tzid
    return _iana_zone(name.strip()) is not None


_TIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID")
_VTIMEZONE = re.compile(rb"BEGIN:VTIMEZONE\r?\nTZID:([^\r\n;]+)\r?\n.*?END:VTIMEZONE\r?\n", re.S)
_ZONED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


def without_standard_timezones(data: bytes) -> bytes:
    """The object without the VTIMEZONEs of IANA zones, which the tz database defines.

    RFC 7809 lets CalDAV peers leave such definitions out ("time zones by reference");
    reading them costs nearly half of icalendar's parsing time. Definitions of other
    names (Windows names, custom zones) stay and are used.
    """
    return _VTIMEZONE.sub(lambda m: b"" if is_iana_zone(m.group(1)) else m.group(0), data)


def require_known_zones(calendar: Calendar, events: Sequence[Event]) -> None:
    """Every TZID is defined in this object or has a well-known name (RFC 5545 §3.2.19).

    icalendar remembers VTIMEZONEs it has seen in other objects; a custom zone name
    defined elsewhere must not silently apply here.
    """
    defined = {str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE") if "TZID" in zone}
    for event in events:
        for name in _ZONED_PROPERTIES:
            value: Any = event.get(name)
            for prop in value if isinstance(value, list) else [value] if value else []:
                tzid = prop.params.get("TZID")
                if tzid and str(tzid) not in defined:
                    try:
                        resolve_zone(str(tzid))
                    except InvalidCalendarData as error:
                        uid = event.get("UID")
                        raise InvalidCalendarData(f"event {str(uid)!r}: {error.reason}") from error


# Floating and unresolved times, made explicit so that expansion compares instants ----


def with_zoned_times(event: Event, item_zone: tzinfo) -> Event:
    """A copy of `event` whose DATE-TIME values all carry a zone.

    A floating time is the item's local time; a TZID icalendar could not resolve goes
    through `resolve_zone`, which rejects names it cannot map.
    """
    if not _has_naive_times(event):
        return event
    zoned = event.copy()
    for name in _TIME_PROPERTIES:
        prop = event.get(name)
        if prop is not None:
            zoned[name] = _zoned_value(prop, item_zone)
    for name in ("EXDATE", "RDATE"):
        if name in event:
            zoned[name] = [_zoned_list(lst, item_zone) for lst in _as_list(event[name])]
    return zoned


def _is_naive(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is None


def _has_naive_times(event: Event) -> bool:
    values = [event.get(name).dt for name in _TIME_PROPERTIES if name in event]
    for name in ("EXDATE", "RDATE"):
        for lst in _as_list(event.get(name)):
            values.extend(d.dt[0] if isinstance(d.dt, tuple) else d.dt for d in lst.dts)
    return any(_is_naive(value) for value in values)


def _zone_for(params: Any, item_zone: tzinfo) -> tzinfo:
    tzid = params.get("TZID")
    return resolve_zone(str(tzid)) if tzid else item_zone


def _zoned(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, tuple):
        return tuple(_zoned(part, zone) for part in value)
    return value.replace(tzinfo=zone) if _is_naive(value) else value


def _zoned_value(prop: vDDDTypes, item_zone: tzinfo) -> vDDDTypes:
    zoned = vDDDTypes(_zoned(prop.dt, _zone_for(prop.params, item_zone)))
    for key, value in prop.params.items():
        if key != "TZID":
            zoned.params[key] = value
    return zoned


def _zoned_list(values: vDDDLists, item_zone: tzinfo) -> vDDDLists:
    zone = _zone_for(values.params, item_zone)
    return vDDDLists([_zoned(d.dt, zone) for d in values.dts])


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
