"""`calsync tokens`: a token is printed once and works; lists never show it; a revoked
token is refused."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from calsync.bootstrap import build
from calsync.config import load


def verify(config, token):
    services = build(load(config), migrate=False)
    try:
        with services.read() as uow:
            return uow.tokens.verify(token)
    finally:
        services.close()


def test_a_created_token_is_printed_once_and_grants_its_role(calsync):
    made = calsync("tokens", "create", "--role", "approver", "--name", "desk",
                   "--performer", "Boss@Example.com")  # fmt: skip
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("calsync_")
    stored = verify(calsync.config, token)
    assert (stored.role.value, stored.name, stored.performer) == (
        "approver",
        "desk",
        "boss@example.com",
    )
    listed = calsync("tokens", "list", "--json")
    assert token not in listed.output
    [row] = json.loads(listed.stdout)
    assert (row["key"], row["role"], row["revoked_at"]) == (stored.key, "approver", None)


def test_the_store_keeps_only_the_tokens_hash(calsync, database_url):
    token = calsync("tokens", "create", "--role", "admin").stdout.strip()
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_tokens")).all()
    engine.dispose()
    assert rows
    assert token not in str(rows)
    secret = token.split("_", 2)[2]  # calsync_<key>_<secret>; the secret may hold "_"
    assert len(secret) == 43
    assert secret not in str(rows)


def test_a_revoked_token_is_refused(calsync):
    token = calsync("tokens", "create", "--role", "viewer").stdout.strip()
    key = token.split("_")[1]
    revoked = calsync("tokens", "revoke", key)
    assert revoked.exit_code == 0, revoked.output
    assert verify(calsync.config, token) is None
    [row] = json.loads(calsync("tokens", "list", "--json").stdout)
    assert row["revoked_at"] is not None


def test_a_wrong_token_or_an_unknown_key_is_refused(calsync):
    token = calsync("tokens", "create", "--role", "admin").stdout.strip()
    assert verify(calsync.config, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verify(calsync.config, "calsync_00000000_" + "x" * 43) is None
    assert verify(calsync.config, "") is None


def test_an_unknown_role_or_key_is_refused_with_a_message(calsync):
    wrong = calsync("tokens", "create", "--role", "root")
    assert wrong.exit_code == 2
    assert "admin, approver, integration or viewer" in wrong.output
    missing = calsync("tokens", "revoke", "deadbeef")
    assert missing.exit_code == 1
    assert "no API token with key 'deadbeef'" in missing.output
