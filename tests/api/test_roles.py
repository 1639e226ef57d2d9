"""The role matrix: every route by every role (and no token, and a forged one), allowed
or refused as `calsync.domain.access.GRANTS` says; 401 without a live token, 403 for a
role that may not. One application per database backend serves the whole matrix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from calsync.bootstrap import start
from calsync.domain.access import Role, allows
from calsync.providers.caldav import CalDAVProvider
from tests.api.conftest import BEARER, PASSWORD, Api, api_settings
from tests.api.routes import OPEN, ROUTES, Route
from tests.conftest import POSTGRES_URL, TEMPLATE, Clock

ROLES = [role.value for role in Role]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(request, tmp_path_factory, radicale) -> Iterator[Api]:
    """One API for the whole matrix on one backend (a fresh database, two calendars)."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CALSYNC_API_TEST_PASSWORD", PASSWORD)
    monkeypatch.setenv("CALSYNC_API_TEST_TOKEN", BEARER)
    database, dropped = _database(request, tmp_path_factory)
    organizer = CalDAVProvider(radicale.url, timeout=10.0)
    calendars = [f"/rooms/matrix-{uuid.uuid4().hex[:12]}/" for _ in range(2)]
    for path in calendars:
        organizer.make_calendar(path, "Room")
    clock = Clock(datetime(2026, 12, 1, 8, tzinfo=UTC))
    services = start(api_settings(database, radicale.url, *calendars), clock)
    try:
        yield Api(services, calendars[0], organizer)
    finally:
        services.close()
        organizer.close()
        dropped()
        monkeypatch.undo()


def _database(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'calsync.db'}", lambda: None
    request.getfixturevalue("postgres_template")
    name = f"calsync_matrix_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), drop


def call(api: Api, route: Route, headers: dict[str, str]):
    return api.client.request(
        route.method, route.url, headers=headers, json=route.body, params=route.params
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_role_reaches_a_route_only_if_it_grants_what_the_route_needs(matrix, route, role):
    answer = call(matrix, route, matrix.headers(role))
    if allows(Role(role), *route.needs):
        assert answer.status_code not in (401, 403), answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert f"a {role} token may not do this" in answer.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer calsync_00000000_" + "x" * 43, "Basic YWRtaW46YWRtaW4=", "Bearer "],
    ids=["none", "empty bearer", "forged", "basic", "blank"],
)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_route_refuses_a_caller_without_a_live_token(matrix, route, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = call(matrix, route, headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_is_refused_at_once(matrix):
    with matrix.services.uow() as uow:
        token = uow.tokens.issue(Role.admin, matrix.services.clock(), "soon revoked")
        uow.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert matrix.client.get("/api/v1/events", headers=headers).status_code == 200
    with matrix.services.uow() as uow:
        uow.tokens.revoke(token.split("_")[1], matrix.services.clock())
        uow.commit()
    assert matrix.client.get("/api/v1/events", headers=headers).status_code == 401


def test_every_route_of_the_application_is_in_the_matrix(matrix):
    served = {
        (method.upper(), path)
        for path, operations in matrix.app.openapi()["paths"].items()
        for method in operations
    }
    listed = {(route.method, route.template) for route in ROUTES}
    assert served - OPEN == listed
