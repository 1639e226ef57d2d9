"""The configuration's booking policies, groups and approval rules (part of `Settings`).

```toml
[policies.defaults]                 # every item
booking_window_days = 180
[policies.kinds.desk]               # every item of a kind
max_duration_hours = 10
[[policies.locations]]              # every item in an area (broadest first)
location = { site = "HQ", building = "North" }
working_hours_only = true
# and [[items]] policy = { ... } last, for the item itself

[groups.facilities]
members = ["anna@example.com", "ben@example.com"]

[approvals]
expire_after_hours = 48
out_of_policy = { role = "approver" }
role_addresses = { approver = ["facilities@example.com"] }

[[approval_rules]]                  # ordered: the first matching rule wins
name = "large rooms"
min_capacity = 20
performer = { group = "facilities" }
```

Each section turns into the domain's values: `PoliciesSettings.defaults_model()` into
`PolicyDefaults`, `ApprovalRuleSettings.rule()` into `ApprovalRule`.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from calsync.domain.approvals import ApprovalRule, Group, Performer, Person, Role, TimeOfDay
from calsync.domain.items import ItemKind, Location, WorkingHours
from calsync.domain.policy import PolicyDefaults, PolicyLayer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"@?[a-z0-9-]+(\.[a-z0-9-]+)+")


def _address(value: str) -> str:
    value = value.strip().lower()
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _address_or_domain(value: str) -> str:
    value = value.strip().lower()
    if not (_ADDRESS.fullmatch(value) or _DOMAIN.fullmatch(value)):
        raise ValueError(f"{value!r} is neither an email address nor a domain")
    return value.removeprefix("@")


Address = Annotated[str, AfterValidator(_address)]
AddressOrDomain = Annotated[str, AfterValidator(_address_or_domain)]
RoleName = Literal["approver", "admin"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class LocationSettings(_Strict):
    site: str = ""
    building: str = ""
    floor: str = ""

    def location(self) -> Location:
        return Location(self.site, self.building, self.floor)


class WorkingHoursSettings(_Strict):
    """Working hours on the item's wall clock: "08:00" to "18:00" on the days named."""

    start: time = time(8)
    end: time = time(18)
    days: Annotated[list[Day], Field(min_length=1)] = ["mon", "tue", "wed", "thu", "fri"]

    @model_validator(mode="after")
    def _a_span(self) -> WorkingHoursSettings:
        if self.end <= self.start:
            raise ValueError("working hours must end after they start")
        return self

    def hours(self) -> WorkingHours:
        return WorkingHours(self.start, self.end, frozenset(_DAYS.index(d) for d in self.days))


class PolicySettings(_Strict):
    """A booking policy's rules; each one left out is inherited (from the area's, the
    kind's, the defaults', else calsync's: 365 days ahead, no duration limit, any hour,
    recurring meetings accepted, conflicts declined, everyone may book, no check-in
    required). For the day and hour limits 0 means none. With `check_in_required`, a
    reservation not checked in `no_show_after_minutes` after its start (default 15) is
    released as a no-show; check-in opens `check_in_opens_minutes` before it (default 15)."""

    booking_window_days: Annotated[int, Field(ge=0)] | None = None
    max_duration_hours: Annotated[float, Field(ge=0)] | None = None
    working_hours_only: bool | None = None
    working_hours: WorkingHoursSettings | None = None
    allow_recurring: bool | None = None
    allow_conflicts: bool | None = None
    #: The older spelling of `allow_conflicts = false`.
    decline_conflicts: bool | None = None
    series_max_conflict_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    series_max_conflicts: Annotated[int, Field(ge=0)] | None = None
    book_in_policy: list[AddressOrDomain] | None = None
    request_out_of_policy: list[AddressOrDomain] | None = None
    check_in_required: bool | None = None
    check_in_opens_minutes: Annotated[float, Field(ge=0)] | None = None
    no_show_after_minutes: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_word_for_conflicts(self) -> PolicySettings:
        if self.allow_conflicts is not None and self.decline_conflicts is not None:
            raise ValueError(
                "give allow_conflicts or its older spelling decline_conflicts, not both"
            )
        return self

    def layer(self) -> PolicyLayer:
        rules: dict[str, Any] = {}
        if self.booking_window_days is not None:
            rules["booking_window"] = _limit(timedelta(days=self.booking_window_days))
        if self.max_duration_hours is not None:
            rules["max_duration"] = _limit(timedelta(hours=self.max_duration_hours))
        if self.working_hours is not None:
            rules["working_hours"] = self.working_hours.hours()
        if self.decline_conflicts is not None:
            rules["allow_conflicts"] = not self.decline_conflicts
        if self.series_max_conflict_percent is not None:
            rules["series_max_conflict_share"] = self.series_max_conflict_percent / 100
        for same in (
            "working_hours_only",
            "allow_recurring",
            "allow_conflicts",
            "series_max_conflicts",
        ):
            if getattr(self, same) is not None:
                rules[same] = getattr(self, same)
        for who in ("book_in_policy", "request_out_of_policy"):
            if getattr(self, who) is not None:
                rules[who] = tuple(getattr(self, who))
        return PolicyLayer.of(**rules, **self._check_in_rules())

    def _check_in_rules(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        if self.check_in_required is not None:
            rules["check_in_required"] = self.check_in_required
        if self.check_in_opens_minutes is not None:
            rules["check_in_opens"] = timedelta(minutes=self.check_in_opens_minutes)
        if self.no_show_after_minutes is not None:
            rules["no_show_after"] = timedelta(minutes=self.no_show_after_minutes)
        return rules


def _limit(value: timedelta) -> timedelta | None:
    return value or None


class AreaPolicySettings(PolicySettings):
    """The policy of the items in one area: `location` names at least its site, building
    or floor."""

    location: LocationSettings

    @model_validator(mode="after")
    def _names_an_area(self) -> AreaPolicySettings:
        if not self.location.location().parts:
            raise ValueError("location must name a site, building or floor")
        return self


class PoliciesSettings(_Strict):
    defaults: PolicySettings = PolicySettings()
    kinds: dict[ItemKind, PolicySettings] = {}
    locations: list[AreaPolicySettings] = []

    def defaults_model(self) -> PolicyDefaults:
        return PolicyDefaults(
            everywhere=self.defaults.layer(),
            kinds=tuple((kind, settings.layer()) for kind, settings in self.kinds.items()),
            areas=tuple((area.location.location(), area.layer()) for area in self.locations),
        )


class GroupSettings(_Strict):
    members: Annotated[list[Address], Field(min_length=1)]


class PerformerSettings(_Strict):
    """Who decides: exactly one of `person` (an address), `group` (a group of [groups],
    any member decides) or `role` (approver or admin)."""

    person: Address | None = None
    group: str | None = None
    role: Literal["approver", "admin"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PerformerSettings:
        if sum(value is not None for value in (self.person, self.group, self.role)) != 1:
            raise ValueError("name exactly one performer: person, group or role")
        return self

    def performer(self) -> Performer:
        if self.person is not None:
            return Person(self.person)
        if self.group is not None:
            return Group(self.group)
        assert self.role is not None
        return Role(self.role)


class TimeOfDaySettings(_Strict):
    """A daily span, [start, end); one ending before its start runs over midnight."""

    start: time
    end: time

    @model_validator(mode="after")
    def _a_span(self) -> TimeOfDaySettings:
        if self.start == self.end:
            raise ValueError("a time of day must end at another time than it starts")
        return self


class ApprovalRuleSettings(_Strict):
    """Bookings that need a performer's approval. Every criterion given must hold;
    durations match longer than `longer_than_hours`, up to `up_to_hours` included."""

    name: Annotated[str, Field(min_length=1)]
    performer: PerformerSettings
    items: list[str] = []
    kinds: list[ItemKind] = []
    location: LocationSettings = LocationSettings()
    organizers: list[AddressOrDomain] = []
    longer_than_hours: Annotated[float, Field(ge=0)] | None = None
    up_to_hours: Annotated[float, Field(gt=0)] | None = None
    recurring: bool | None = None
    time_of_day: TimeOfDaySettings | None = None
    min_capacity: Annotated[int, Field(ge=1)] | None = None
    max_capacity: Annotated[int, Field(ge=1)] | None = None
    expire_after_hours: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _ranges_not_empty(self) -> ApprovalRuleSettings:
        low, high = self.longer_than_hours, self.up_to_hours
        if low is not None and high is not None and high <= low:
            raise ValueError("up_to_hours must be more than longer_than_hours")
        low_seats, high_seats = self.min_capacity, self.max_capacity
        if low_seats is not None and high_seats is not None and high_seats < low_seats:
            raise ValueError("max_capacity must be at least min_capacity")
        return self

    def rule(self) -> ApprovalRule:
        return ApprovalRule(
            name=self.name,
            performer=self.performer.performer(),
            items=frozenset(self.items),
            kinds=frozenset(self.kinds),
            location=self.location.location(),
            organizers=tuple(self.organizers),
            longer_than=_hours(self.longer_than_hours),
            up_to=_hours(self.up_to_hours),
            recurring=self.recurring,
            time_of_day=TimeOfDay(self.time_of_day.start, self.time_of_day.end)
            if self.time_of_day
            else None,
            min_capacity=self.min_capacity,
            max_capacity=self.max_capacity,
            expire_after=_hours(self.expire_after_hours),
        )


def _hours(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(hours=value)


class ApprovalSettings(_Strict):
    """How long a request waits for a decision (then it is declined), who decides a
    booking out of policy that no approval rule matches, and where each role is written
    to when a request waits for it (a role has no address of its own)."""

    expire_after_hours: Annotated[float, Field(gt=0)] = 48.0
    out_of_policy: PerformerSettings = PerformerSettings(role="approver")
    role_addresses: dict[RoleName, list[Address]] = {}
