"""A new user's first commands: no configuration, no database, then `calsync init`."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from calsync.cli import app
from calsync.cli.common import console
from tests.conftest import POSTGRES_URL

WITHOUT_A_FILE = [
    ["sync"],
    ["worker", "--once"],
    ["events", "list"],
    ["events", "show", "1"],
    ["reservations", "list"],
    ["deltas", "list"],
    ["purge", "--dry-run"],
    ["config", "check"],
]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty working folder, with nothing in the environment naming a configuration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALSYNC_CONFIG", raising=False)
    monkeypatch.delenv("CALSYNC_DATABASE_URL", raising=False)
    monkeypatch.setattr(console, "width", 400)  # paths stay on one line
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("command", WITHOUT_A_FILE, ids=" ".join)
def test_a_command_without_configuration_says_where_calsync_looked_and_makes_nothing(
    folder, command
):
    result = invoke(*command)
    assert result.exit_code == 1, result.output
    assert "no configuration found" in result.output
    assert str(folder / "calsync.toml") in result.output
    assert "calsync init" in result.output
    assert list(folder.iterdir()) == []


def test_a_configuration_named_by_the_environment_that_is_missing_is_named(folder, monkeypatch):
    monkeypatch.setenv("CALSYNC_CONFIG", str(folder / "elsewhere.toml"))
    result = invoke("sync")
    assert result.exit_code == 1
    assert f"{folder / 'elsewhere.toml'} (named by CALSYNC_CONFIG) does not exist" in result.output
    assert list(folder.iterdir()) == []


def test_only_init_creates_a_sqlite_database(folder):
    (folder / "calsync.toml").write_text(f'[database]\nurl = "sqlite:///{folder / "store.db"}"\n')
    refused = invoke("reservations", "list")
    assert refused.exit_code == 1
    assert f"no database at {folder / 'store.db'}" in refused.output
    assert "run `calsync init`" in refused.output
    assert not (folder / "store.db").exists()

    assert invoke("init").exit_code == 0
    assert (folder / "store.db").exists()
    assert invoke("reservations", "list").exit_code == 0


@pytest.mark.postgresql
def test_a_command_against_an_empty_postgresql_database_asks_for_init_and_creates_no_table(
    folder,
):
    name = f"calsync_empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - no server: the SQLite half still runs
        pytest.skip(f"PostgreSQL is not reachable: {exc.__class__.__name__}")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        (folder / "calsync.toml").write_text(f'[database]\nurl = "{url}"\n')
        refused = invoke("deltas", "list")
        assert refused.exit_code == 1
        assert "has no calsync tables" in refused.output
        assert "run `calsync init`" in refused.output
        engine = create_engine(url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()
        assert invoke("init").exit_code == 0
        assert invoke("deltas", "list").exit_code == 0
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_init_in_an_empty_folder_writes_a_starter_configuration_and_the_database(folder):
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert f"wrote a starter {folder / 'calsync.toml'}" in result.output
    assert (folder / "calsync.db").exists()
    checked = invoke("config", "check")
    assert checked.exit_code == 0, checked.output
    assert invoke("events", "list").exit_code == 0
    again = invoke("init")
    assert again.exit_code == 0
    assert "wrote a starter" not in again.output


def test_init_with_a_named_configuration_that_is_missing_writes_nothing(folder):
    result = invoke("--config", str(folder / "typo.toml"), "init")
    assert result.exit_code == 1
    assert "typo.toml (named by --config) does not exist" in result.output
    assert list(folder.iterdir()) == []
