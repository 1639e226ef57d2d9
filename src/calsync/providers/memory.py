"""`InMemoryProvider`: a calendar service held in memory, with the behaviour that matters.

It keeps objects per calendar with etags, hands out delta keys (a change counter), can
expire them (`expire_delta_keys`) and refuses stale conditional writes, like a CalDAV
server does. The same contract suite runs against it and against the CalDAV adapter on a
real Radicale (tests/providers/contract.py), which keeps it honest; fast service-layer
and property tests run on it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from calsync.errors import DeltaKeyExpired, ObjectExists, ProviderRejected
from calsync.providers.base import (
    CalendarCheck,
    Capabilities,
    ChangeBatch,
    ChangesSeen,
    Exchange,
    NoPush,
    RemoteChange,
    WholeSeries,
    WriteResult,
)
from calsync.providers.ical.objects import ICalendarObjects

_KEY_PREFIX = "memory:"


@dataclass
class _Calendar:
    objects: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)
    position: int = 0
    oldest_valid: int = 0


class InMemoryProvider(NoPush, WholeSeries, ICalendarObjects):
    kind: ClassVar[str] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(delta_keys=True)

    def __init__(self) -> None:
        self._calendars: dict[str, _Calendar] = {}
        self._etags = itertools.count(1)

    def make_calendar(self, calendar: str) -> None:
        self._calendars.setdefault(calendar, _Calendar())

    def expire_delta_keys(self, calendar: str) -> None:
        """Every delta key handed out so far stops being valid (a server forgot them)."""
        state = self._calendar(calendar)
        state.oldest_valid = state.position

    def fetch_changes(
        self,
        calendar: str,
        delta_key: str | None,
        on_changes: ChangesSeen | None = None,
        since: datetime | None = None,  # noqa: ARG002 - every object is listed
    ) -> ChangeBatch:
        state = self._calendar(calendar)
        if delta_key is None:
            hrefs = sorted(state.objects)
        else:
            after = self._position(state, delta_key)
            hrefs = sorted(h for h, at in state.changed_at.items() if at > after)
        changes = tuple(self._change(state, href) for href in hrefs)
        if delta_key is None:
            changes = tuple(c for c in changes if not c.removed)
        if on_changes is not None and changes:
            on_changes(changes)
        key = f"{_KEY_PREFIX}{state.position}"
        return ChangeBatch(changes, key, delta_key is None, Exchange("list", key))

    def locate(self, calendar: str, uid: str) -> str:
        return f"{calendar}{uid}.ics"

    def create(self, calendar: str, uid: str, data: bytes) -> WriteResult:
        href = f"{calendar}{uid}.ics"
        if href in self._calendar(calendar).objects:
            raise ObjectExists(f"{href} exists already", href)
        return self._write(calendar, href, data)

    def update(
        self, calendar: str, provider_id: str, data: bytes, version: str | None
    ) -> WriteResult:
        self._check_version(calendar, provider_id, version, missing_ok=False)
        return self._write(calendar, provider_id, data)

    def delete(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        state = self._calendar(calendar)
        if provider_id in state.objects:
            self._check_version(calendar, provider_id, version, missing_ok=False)
            del state.objects[provider_id]
            self._touch(state, provider_id)
        return Exchange(f"DELETE {provider_id}", "deleted")

    def get(self, calendar: str, provider_id: str) -> RemoteChange:
        state = self._calendar(calendar)
        if provider_id not in state.objects:
            raise ProviderRejected(f"{provider_id} does not exist", status=404)
        etag, data = state.objects[provider_id]
        return RemoteChange(provider_id, etag, data=data)

    def check(self, calendar: str) -> CalendarCheck:
        self._calendar(calendar)
        return CalendarCheck(True, "in memory")

    def close(self) -> None:
        """Nothing to release."""

    def _calendar(self, calendar: str) -> _Calendar:
        if calendar not in self._calendars:
            raise ProviderRejected(f"no calendar {calendar}", status=404)
        return self._calendars[calendar]

    def _position(self, state: _Calendar, delta_key: str) -> int:
        number = delta_key.removeprefix(_KEY_PREFIX)
        if not delta_key.startswith(_KEY_PREFIX) or not number.isdigit():
            raise DeltaKeyExpired(f"{delta_key!r} is no delta key of this calendar")
        if int(number) < state.oldest_valid or int(number) > state.position:
            raise DeltaKeyExpired(f"delta key {delta_key!r} is no longer valid")
        return int(number)

    def _change(self, state: _Calendar, href: str) -> RemoteChange:
        if href not in state.objects:
            return RemoteChange(href, None, removed=True)
        etag, data = state.objects[href]
        return RemoteChange(href, etag, data=data)

    def _check_version(
        self, calendar: str, provider_id: str, version: str | None, missing_ok: bool
    ) -> None:
        state = self._calendar(calendar)
        if provider_id not in state.objects:
            if missing_ok:
                return
            raise ProviderRejected(f"{provider_id} does not exist", status=404)
        if version is not None and state.objects[provider_id][0] != version:
            raise ProviderRejected(f"{provider_id} changed meanwhile", status=412)

    def _write(self, calendar: str, href: str, data: bytes) -> WriteResult:
        state = self._calendar(calendar)
        etag = f'"{next(self._etags)}"'
        state.objects[href] = (etag, data)
        self._touch(state, href)
        return WriteResult(href, etag, Exchange(f"PUT {href}", etag))

    def _touch(self, state: _Calendar, href: str) -> None:
        state.position += 1
        state.changed_at[href] = state.position
