"""The composition root: `build(settings)` wires engine, unit of work and providers together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from calsync.clock import Clock, system_clock
from calsync.config import Settings
from calsync.providers import load
from calsync.providers.base import Provider
from calsync.store.db import make_engine, make_session_factory, upgrade
from calsync.store.unit_of_work import UnitOfWork


@dataclass
class Services:
    settings: Settings
    engine: Engine
    uow: Callable[[], UnitOfWork]
    clock: Clock = system_clock
    providers: dict[str, Provider] = field(default_factory=dict)
    #: Units of work that only read: on SQLite they run beside a writing one.
    reads: Callable[[], UnitOfWork] | None = None
    #: Units of work of one read statement: on PostgreSQL outside any transaction (one
    #: round trip instead of three: no BEGIN, no ROLLBACK), e.g. a request's token.
    lookups: Callable[[], UnitOfWork] | None = None

    def read(self) -> UnitOfWork:
        return self.reads() if self.reads is not None else self.uow()

    def lookup(self) -> UnitOfWork:
        """A unit of work for one read statement (several would not share a snapshot)."""
        return self.lookups() if self.lookups is not None else self.read()

    def provider(self, connection: str) -> Provider:
        if connection not in self.providers:
            self.providers[connection] = make_provider(self.settings, connection)
        return self.providers[connection]

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()
        self.engine.dispose()


def build(settings: Settings, clock: Clock = system_clock, migrate: bool = True) -> Services:
    engine = make_engine(settings.database.url)
    if migrate:
        upgrade(engine)
    factory = make_session_factory(engine)
    reading = make_session_factory(engine, read_only=True)
    looking = make_session_factory(engine, read_only=True, one_statement=True)
    return Services(
        settings=settings,
        engine=engine,
        uow=lambda: UnitOfWork(factory),
        clock=clock,
        reads=lambda: UnitOfWork(reading),
        lookups=lambda: UnitOfWork(looking),
    )


def make_provider(settings: Settings, name: str) -> Provider:
    from calsync.providers.wire import Limits  # httpx is loaded only when a provider is made

    connection = settings.connection(name)
    cls: Any = load(connection.kind)
    limits = Limits(
        deadline_seconds=connection.deadline_seconds,
        max_answer_bytes=connection.max_answer_bytes,
        max_sync_rounds=connection.max_sync_rounds,
    )
    provider: Provider = cls.from_settings(connection, limits, name=name)
    return provider


def start(settings: Settings, clock: Clock = system_clock) -> Services:
    """Build the services and store the configured workplace items (bindings included)."""
    services = build(settings, clock)
    with services.uow() as uow:
        for item in settings.workplace_items():
            uow.items.upsert(item)
        uow.commit()
    return services
