"""Review: migration 0010 (the exchange log's autovacuum thresholds) down and up again on
both databases, on a PostgreSQL older than 13, and `calsync init` run twice."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text

from calsync.store.db import SCHEMA_REVISION, alembic_config, make_engine, schema_revision

TABLES = ("events", "calendar_items", "synchronizations")


def _options(connection) -> dict[str, str]:
    if connection.dialect.name != "postgresql":
        return {}
    rows = connection.execute(
        text(
            "SELECT relname, coalesce(array_to_string(reloptions, ','), '') FROM pg_class "
            "WHERE relname IN ('events', 'calendar_items', 'synchronizations')"
        )
    )
    return dict(rows.all())


def test_review10_0010_down_and_up_again(database_url):
    from alembic import command

    engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        command.upgrade(config, "head")
        with engine.connect() as connection:
            at_head = _options(connection)
        command.downgrade(config, "0009")
        with engine.connect() as connection:
            assert all(not options for options in _options(connection).values())
        assert schema_revision(engine) == "0009"
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert _options(connection) == at_head
        assert schema_revision(engine) == SCHEMA_REVISION
    finally:
        engine.dispose()


class _Bind:
    """What the migration asks of its connection, for a server of `version`."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.dialect = type("D", (), {"name": "postgresql"})()

    def exec_driver_sql(self, _statement):
        return type("R", (), {"scalar_one": lambda _self: str(self.version)})()


@pytest.mark.parametrize(("version", "insert_scale"), [(120017, False), (130000, True)])
def test_review10_0010_on_a_postgresql_before_13_leaves_out_the_insert_threshold(
    monkeypatch, version, insert_scale
):
    migration = importlib.import_module("calsync.store.migrations.versions.0010_log_autovacuum")
    executed: list[str] = []
    monkeypatch.setattr(migration.op, "get_bind", lambda: _Bind(version), raising=False)
    monkeypatch.setattr(migration.op, "execute", executed.append, raising=False)
    migration.upgrade()
    assert len(executed) == 3
    assert all(("autovacuum_vacuum_insert_scale_factor" in s) == insert_scale for s in executed)
    assert all("autovacuum_analyze_scale_factor = 0.02" in s for s in executed)
    executed.clear()
    migration.downgrade()
    assert all(("autovacuum_vacuum_insert_scale_factor" in s) == insert_scale for s in executed)


def test_review10_init_twice_keeps_the_schema_and_its_thresholds(database_url, tmp_path):
    from typer.testing import CliRunner

    from calsync.cli import app

    config = tmp_path / "calsync.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')
    for _ in range(2):
        ran = CliRunner().invoke(app, ["--config", str(config), "init"])
        assert ran.exit_code == 0, ran.output
    engine = make_engine(database_url)
    try:
        assert schema_revision(engine) == SCHEMA_REVISION
        with engine.connect() as connection:
            for options in _options(connection).values():
                assert options.count("autovacuum_analyze_scale_factor") == 1
    finally:
        engine.dispose()
