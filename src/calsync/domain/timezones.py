"""Time zone names found in calendar data, resolved to `tzinfo`: `resolve_zone(tzid)`.

RFC 5545 §3.2.19 makes a TZID opaque text that names a VTIMEZONE in the same object.
In practice it is an IANA name ("Europe/Berlin") or, from Outlook and Exchange, a
Windows name ("W. Europe Standard Time"). Windows names are translated with the CLDR
windowsZones table that icalendar ships. A name that is neither is an error: assuming
UTC would silently move a meeting by hours.

When icalendar already built a `tzinfo` from a VTIMEZONE in the object, the reader uses
that one; this module is for the names it could not resolve and for an item's own zone.
"""

from __future__ import annotations

from datetime import tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
