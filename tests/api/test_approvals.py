"""`/api/v1/approvals`: an approver lists and decides what waits for it, and only that."""

from __future__ import annotations

import pytest

from tests.sync.calendars import book, drain, partstats, sync

BOSS = "boss@example.com"


@pytest.fixture
def waiting(approving_api):
    api = approving_api
    book(api.organizer, api.calendar, "m1", day=3)
    sync(api.services)
    drain(api.services)
    return api


def boss(api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token('approver', BOSS)}"}


def stranger(api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token('approver', 'eve@example.com')}"}


def test_an_approver_lists_what_waits_for_it_and_approves_it(waiting):
    api = waiting
    listed = api.client.get("/api/v1/approvals", headers=boss(api)).json()
    [approval] = listed["results"]
    assert (approval["rule"], approval["state"]) == ("board", "pending")
    assert approval["reservation"]["status"] == "pending_approval"
    assert api.client.get("/api/v1/approvals", headers=stranger(api)).json()["results"] == []

    answer = api.client.post(
        f"/api/v1/approvals/{approval['id']}/approve", headers=boss(api), json={"reason": "ok"}
    )
    assert answer.status_code == 200, answer.text
    [decided] = answer.json()
    assert (decided["state"], decided["decided_by"], decided["reason"]) == ("approved", BOSS, "ok")
    assert decided["reservation"]["status"] == "confirmed"
    drain(api.services)
    assert partstats(api.organizer, api.calendar) == {"m1": "ACCEPTED"}


def test_a_second_decision_is_a_conflict_naming_the_first(waiting):
    api = waiting
    [approval] = api.get("/api/v1/approvals").json()["results"]
    path = f"/api/v1/approvals/{approval['id']}"
    assert (
        api.client.post(f"{path}/reject", headers=boss(api), json={"reason": "no"}).status_code
        == 200
    )
    again = api.client.post(f"{path}/approve", headers=boss(api))
    assert again.status_code == 409
    assert f"already rejected by {BOSS}" in again.json()["detail"]


def test_an_approver_who_is_not_the_performer_neither_sees_nor_decides_it(waiting):
    api = waiting
    [approval] = api.get("/api/v1/approvals").json()["results"]
    path = f"/api/v1/approvals/{approval['id']}"
    assert api.client.get(path, headers=stranger(api)).status_code == 404
    refused = api.client.post(f"{path}/approve", headers=stranger(api))
    assert refused.status_code == 403
    assert "boss@example.com decides it" in refused.json()["detail"]
    assert api.get(path).json()["state"] == "pending"  # an admin sees it, still pending


def test_a_viewer_sees_approvals_but_does_not_decide(waiting):
    api = waiting
    [approval] = api.get("/api/v1/approvals", role="viewer").json()["results"]
    answer = api.post(f"/api/v1/approvals/{approval['id']}/approve", role="viewer")
    assert answer.status_code == 403


def test_the_list_pages_by_cursor_and_filters_by_state(waiting):
    api = waiting
    for uid, day in (("m2", 4), ("m3", 5)):
        book(api.organizer, api.calendar, uid, day=day)
    sync(api.services)
    first = api.get("/api/v1/approvals", params={"limit": 2}).json()
    second = api.get(
        "/api/v1/approvals", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    ids = [a["id"] for a in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 3
    assert second["next_cursor"] is None
    assert api.get("/api/v1/approvals", params={"state": "approved"}).json()["results"] == []
    assert api.get("/api/v1/approvals", params={"state": "maybe"}).status_code == 422
