"""Policies, groups and approval rules in the configuration file: what they make, and
the messages naming what is wrong."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from calsync.config import load
from calsync.domain.approvals import Group, Person, Role, TimeOfDay
from calsync.domain.items import ItemKind, Location
from calsync.errors import ConfigError

ITEMS = """
[[items]]
name = "Boardroom"
kind = "room"
time_zone = "Europe/Berlin"
capacity = 20
location = { site = "HQ", building = "North", floor = "4" }
policy = { max_duration_hours = 4, series_max_conflict_percent = 25 }

[[items]]
name = "Desk 7"
kind = "desk"
location = { site = "HQ", building = "South" }

[[items]]
name = "Van"
kind = "equipment"
location = { site = "Depot" }
policy = { booking_window_days = 0 }
"""

POLICIES = """
[policies.defaults]
booking_window_days = 90
allow_recurring = false
book_in_policy = ["example.com", "Boss@Partner.org"]
request_out_of_policy = ["@example.com"]

[policies.kinds.desk]
max_duration_hours = 10
working_hours_only = true
working_hours = { start = "07:00", end = 20:00:00, days = ["mon", "tue", "sat"] }

[[policies.locations]]
location = { site = "HQ" }
booking_window_days = 30
allow_conflicts = false

[[policies.locations]]
location = { site = "HQ", building = "North" }
booking_window_days = 14
allow_recurring = true
"""

APPROVALS = """
[groups.facilities]
members = ["Anna@example.com", "ben@example.com"]

[approvals]
expire_after_hours = 24
out_of_policy = { person = "office@example.com" }

[[approval_rules]]
name = "partners"
organizers = ["partner.org"]
performer = { person = "host@example.com" }

[[approval_rules]]
name = "long evenings in big rooms"
items = ["Boardroom"]
kinds = ["room"]
location = { site = "HQ" }
longer_than_hours = 2
up_to_hours = 8
recurring = false
time_of_day = { start = "18:00", end = "08:00" }
min_capacity = 10
max_capacity = 50
expire_after_hours = 4
performer = { group = "facilities" }

[[approval_rules]]
name = "everything else"
performer = { role = "approver" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calsync.toml"
    path.write_text(text)
    return path


def items(tmp_path: Path, text: str):
    return {item.name: item for item in load(write(tmp_path, text)).workplace_items()}


def test_an_item_takes_the_defaults_then_its_kinds_then_its_areas_then_its_own(tmp_path):
    found = items(tmp_path, ITEMS + POLICIES)
    boardroom, desk, van = found["Boardroom"].policy, found["Desk 7"].policy, found["Van"].policy
    assert boardroom.booking_window == timedelta(days=14)  # building North over site HQ
    assert boardroom.allow_recurring  # building North's
    assert boardroom.max_duration == timedelta(hours=4)  # its own
    assert boardroom.series_max_conflict_share == 0.25
    assert desk.booking_window == timedelta(days=30)  # site HQ's
    assert not desk.allow_recurring  # the defaults'
    assert desk.max_duration == timedelta(hours=10)  # the kind's
    assert desk.working_hours_only
    assert (desk.working_hours.start, desk.working_hours.end) == (time(7), time(20))
    assert desk.working_hours.days == frozenset({0, 1, 5})
    assert van.booking_window is None  # 0: no limit, over the defaults' 90 days
    assert van.book_in_policy == ("example.com", "boss@partner.org")
    assert van.request_out_of_policy == ("example.com",)


def test_without_policies_an_item_keeps_calsyncs_policy(tmp_path):
    van = items(tmp_path, ITEMS)["Van"].policy
    assert van.max_duration is None
    assert not van.allow_conflicts
    assert van.allow_recurring
    assert items(tmp_path, ITEMS)["Desk 7"].policy.booking_window == timedelta(days=365)


def test_the_older_decline_conflicts_still_says_whether_conflicts_are_allowed(tmp_path):
    text = ITEMS.replace("booking_window_days = 0", "decline_conflicts = false")
    assert items(tmp_path, text)["Van"].policy.allow_conflicts


def test_approval_rules_keep_their_order_criteria_and_performers(tmp_path):
    settings = load(write(tmp_path, ITEMS + APPROVALS))
    rules = settings.approval_rules_in_order()
    assert [r.name for r in rules.rules] == [
        "partners",
        "long evenings in big rooms",
        "everything else",
    ]
    partners, evenings, rest = rules.rules
    assert partners.performer == Person("host@example.com")
    assert partners.organizers == ("partner.org",)
    assert evenings.performer == Group("facilities")
    assert evenings.items == frozenset({"Boardroom"})
    assert evenings.kinds == frozenset({ItemKind.room})
    assert evenings.location == Location("HQ")
    assert (evenings.longer_than, evenings.up_to) == (timedelta(hours=2), timedelta(hours=8))
    assert evenings.recurring is False
    assert evenings.time_of_day == TimeOfDay(time(18), time(8))
    assert (evenings.min_capacity, evenings.max_capacity) == (10, 50)
    assert evenings.expire_after == timedelta(hours=4)
    assert rest.performer == Role("approver")
    assert rest.expire_after is None  # the [approvals] default
    assert rules.expire_after == timedelta(hours=24)
    assert rules.out_of_policy == Person("office@example.com")


def test_groups_list_their_members_in_lower_case(tmp_path):
    settings = load(write(tmp_path, ITEMS + APPROVALS))
    assert settings.group_members() == {
        "facilities": frozenset({"anna@example.com", "ben@example.com"})
    }


def test_without_approval_settings_requests_wait_48_hours_for_an_approver(tmp_path):
    rules = load(write(tmp_path, ITEMS)).approval_rules_in_order()
    assert rules.rules == ()
    assert rules.expire_after == timedelta(hours=48)
    assert rules.out_of_policy == Role("approver")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            APPROVALS.replace('group = "facilities"', 'group = "cleaners"'),
            "approval rule 'long evenings in big rooms' names unknown group 'cleaners'",
        ),
        (
            APPROVALS.replace('person = "office@example.com"', 'group = "nobody"'),
            "approvals.out_of_policy names unknown group 'nobody'",
        ),
        (
            APPROVALS.replace('items = ["Boardroom"]', 'items = ["Bordroom"]'),
            "names unknown item 'Bordroom'",
        ),
        (
            APPROVALS.replace('name = "partners"', 'name = "everything else"'),
            "approval rule names must be unique; repeated: everything else",
        ),
        (
            APPROVALS + '[[approval_rules]]\nname = "never"\nperformer = { role = "admin" }\n',
            "approval rule 'never' is never reached: rule 'everything else' before it",
        ),
        (
            APPROVALS.replace('performer = { role = "approver" }', "performer = {}"),
            "approval_rules.2.performer: Value error, name exactly one performer",
        ),
        (
            APPROVALS.replace(
                'performer = { role = "approver" }',
                'performer = { role = "approver", person = "a@example.com" }',
            ),
            "name exactly one performer",
        ),
        (
            APPROVALS.replace('role = "approver"', 'role = "janitor"'),
            "approval_rules.2.performer.role",
        ),
        (
            APPROVALS.replace('"host@example.com"', '"host"'),
            "'host' is not an email address",
        ),
        (
            APPROVALS.replace('["partner.org"]', '["partner org"]'),
            "approval_rules.0.organizers.0: Value error, 'partner org' is neither",
        ),
        (APPROVALS.replace("up_to_hours = 8", "up_to_hours = 1"), "up_to_hours must be more"),
        (APPROVALS.replace("max_capacity = 50", "max_capacity = 5"), "max_capacity must be"),
        (
            APPROVALS.replace('end = "08:00"', 'end = "18:00"'),
            "time_of_day: Value error, a time of day must end at another time",
        ),
        (APPROVALS.replace('end = "08:00"', 'end = "25:00"'), "time_of_day.end"),
        (APPROVALS.replace("expire_after_hours = 24", "expire_after_hours = 0"), "approvals."),
        (APPROVALS.replace('name = "partners"', 'name = ""'), "approval_rules.0.name"),
        (APPROVALS.replace('members = ["Anna@example.com", "ben@example.com"]', "members = []"),
         "groups.facilities.members"),
    ],
)  # fmt: skip
def test_a_broken_approval_setting_says_what_is_wrong(tmp_path, broken, message):
    with pytest.raises(ConfigError, match=_literal(message)):
        load(write(tmp_path, ITEMS + broken))


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (POLICIES.replace('"07:00"', '"21:00"'), "working hours must end after they start"),
        (POLICIES.replace('"sat"', '"sabbath"'), "policies.kinds.desk.working_hours.days.2"),
        (POLICIES.replace("[policies.kinds.desk]", "[policies.kinds.boat]"), "policies.kinds"),
        (POLICIES.replace('{ site = "HQ" }', "{}"), "location must name a site, building or floor"),
        (POLICIES.replace("booking_window_days = 90", "booking_window_days = -1"),
         "policies.defaults.booking_window_days"),
        (POLICIES.replace("allow_recurring = false", "allow_recurring = false\nmax_people = 3"),
         "policies.defaults.max_people"),
        (POLICIES.replace('"Boss@Partner.org"', '"boss at partner"'),
         "policies.defaults.book_in_policy.1"),
        (POLICIES.replace("allow_conflicts = false", "allow_conflicts = false\n"
                          "decline_conflicts = true"), "not both"),
        (POLICIES + "series_max_conflict_percent = 120\n",
         "policies.locations.1.series_max_conflict_percent"),
    ],
)  # fmt: skip
def test_a_broken_policy_says_which_key_is_wrong(tmp_path, broken, message):
    with pytest.raises(ConfigError, match=_literal(message)):
        load(write(tmp_path, ITEMS + broken))


def _literal(message: str) -> str:
    import re

    return re.escape(message)


CHECK_IN = """
[policies.kinds.desk]
check_in_required = true
no_show_after_minutes = 10

[[policies.locations]]
location = { site = "HQ", building = "South" }
check_in_opens_minutes = 30
"""


def test_check_in_is_required_per_policy_layer_with_its_margin_and_grace_period(tmp_path):
    found = items(tmp_path, ITEMS + CHECK_IN)
    desk, boardroom = found["Desk 7"].policy, found["Boardroom"].policy
    assert desk.check_in_required
    assert desk.no_show_after == timedelta(minutes=10)  # the kind's
    assert desk.check_in_opens == timedelta(minutes=30)  # building South's
    assert not boardroom.check_in_required
    assert (boardroom.check_in_opens, boardroom.no_show_after) == (
        timedelta(minutes=15),
        timedelta(minutes=15),
    )


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (CHECK_IN.replace("no_show_after_minutes = 10", "no_show_after_minutes = 0"),
         "policies.kinds.desk.no_show_after_minutes"),
        (CHECK_IN.replace("check_in_opens_minutes = 30", "check_in_opens_minutes = -5"),
         "policies.locations.0.check_in_opens_minutes"),
        (CHECK_IN.replace("check_in_required = true", 'check_in_required = "sometimes"'),
         "policies.kinds.desk.check_in_required"),
    ],
)  # fmt: skip
def test_a_broken_check_in_setting_says_which_key_is_wrong(tmp_path, broken, message):
    with pytest.raises(ConfigError, match=_literal(message)):
        load(write(tmp_path, ITEMS + broken))
