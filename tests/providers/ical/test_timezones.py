from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from calsync.errors import InvalidCalendarData
from calsync.providers.ical.timezones import resolve_zone


def test_iana_name_resolves_through_zoneinfo():
    assert resolve_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("windows_name", "iana_name"),
    [
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("SA Pacific Standard Time", "America/Bogota"),
        ("Eastern Standard Time", "America/New_York"),
    ],
)
def test_windows_zone_name_maps_through_cldr(windows_name, iana_name):
    assert resolve_zone(windows_name) == ZoneInfo(iana_name)


@pytest.mark.parametrize(
    "name",
    ["Customized Time Zone", "tzone://Microsoft/Custom", "Eastern Standard Time 1", "", "America"],
)
def test_unmappable_zone_is_an_error_never_utc(name):
    with pytest.raises(InvalidCalendarData) as raised:
        resolve_zone(name)
    assert repr(name) in raised.value.reason


def test_path_like_names_are_rejected_not_read():
    with pytest.raises(InvalidCalendarData):
        resolve_zone("../../etc/passwd")
