"""Review: what an approver's token learns of approvals that are not its own."""

from __future__ import annotations

from tests.api.test_approvals import boss, stranger, waiting  # noqa: F401  (the fixture)


def test_a_stranger_deciding_anothers_decided_approval_learns_nothing_of_it(
    waiting,  # noqa: F811
):
    """GET answers 404 to an approver for another's approval ("another's approval is not
    found"), but POST .../approve on it once decided answers 409 naming who decided it,
    when, and the reservation's id."""
    api = waiting
    [approval] = api.get("/api/v1/approvals").json()["results"]
    path = f"/api/v1/approvals/{approval['id']}"
    assert api.client.post(f"{path}/reject", headers=boss(api), json={"reason": "no"}).is_success
    assert api.client.get(path, headers=stranger(api)).status_code == 404
    probed = api.client.post(f"{path}/approve", headers=stranger(api))
    assert "boss@example.com" not in probed.text, (probed.status_code, probed.text)
    assert probed.status_code in (403, 404)


def test_a_reason_holding_a_nul_is_refused_as_bad_input_not_a_server_error(
    waiting,  # noqa: F811
):
    """PostgreSQL text holds no NUL character: the reason reaches the database as it came."""
    api = waiting
    [approval] = api.get("/api/v1/approvals").json()["results"]
    answer = api.client.post(
        f"/api/v1/approvals/{approval['id']}/reject", headers=boss(api), json={"reason": "a\x00b"}
    )
    assert answer.status_code in (200, 422), (answer.status_code, answer.text)
