"""Connections as admins see them: `bound_calendars(settings, name)`, how each one
authenticates (`authentication`, never with what), and `check_connection(settings,
name)`: proof that one works, its credentials and each bound calendar, with one cheap
request each (nothing listed). Shared by `calsync connections` and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from calsync.config import CalDAVConnection, ConnectionSettings, Settings
from calsync.errors import CalsyncError


@dataclass(frozen=True)
class CalendarResult:
    item: str
    calendar: str
    ok: bool
    delta_keys: bool | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConnectionCheck:
    name: str
    kind: str
    url: str
    capabilities: dict[str, Any]
    calendars: list[CalendarResult]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.calendars)

    def as_json(self) -> dict[str, Any]:
        return {
            "connection": self.name,
            "kind": self.kind,
            "url": self.url,
            "capabilities": self.capabilities,
            "ok": self.ok,
            "calendars": [result.as_json() for result in self.calendars],
        }


def bound_calendars(settings: Settings, name: str) -> list[tuple[str, str]]:
    """(item, calendar) of each item bound to connection `name`."""
    return [
        (item.name, item.binding.calendar)
        for item in settings.items
        if item.binding is not None and item.binding.connection == name
    ]


def authentication(connection: ConnectionSettings) -> str:
    """How a connection proves itself: basic, bearer, service_account or none."""
    if not isinstance(connection, CalDAVConnection):
        return "service_account"
    if connection.token_env or connection.token_file:
        return "bearer"
    return "basic" if connection.username or connection.password_env else "none"


def check_connection(settings: Settings, name: str) -> ConnectionCheck:
    """Prove connection `name`: ConfigError (naming where) if a secret cannot be had;
    otherwise each bound calendar's result, failures included."""
    from calsync.bootstrap import make_provider  # httpx is loaded only when a provider is made

    connection = settings.connection(name)
    connection.check_secrets()
    provider = make_provider(settings, name)
    results = []
    try:
        for item, calendar in bound_calendars(settings, name):
            try:
                found = provider.check(calendar)
                results.append(CalendarResult(item, calendar, True, found.delta_keys, found.detail))
            except CalsyncError as exc:
                results.append(CalendarResult(item, calendar, False, None, str(exc)))
        capabilities = asdict(provider.capabilities)
    finally:
        provider.close()
    return ConnectionCheck(name, connection.kind, connection.url, capabilities, results)
