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


def test_one_page_for_an_approver_with_nothing_to_decide_reads_a_bounded_number_of_rows(
    approving_api,
):
    """GET /api/v1/approvals?limit=1 by an approver who decides none of N pending
    approvals walks them all, two rows per query: N/2 queries for one request."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import event, text

    from tests.api.test_approvals import stranger

    api = approving_api
    with api.services.uow() as uow:
        item_id = uow.items.get("Room A").id
        start = datetime(2027, 1, 1, tzinfo=UTC)
        for n in range(300):
            at = start + timedelta(hours=n)
            uow.session.execute(
                text(
                    "INSERT INTO reservations (id, item_id, start_at, end_at, status, origin,"
                    " uid, recurrence_key, subject, organizer, all_day, sequence, reason,"
                    " created_at, updated_at) VALUES (:id, :item, :start, :end,"
                    " 'pending_approval', 'calendar', :uid, '', '', 'a@example.com', false, 0,"
                    " '', :start, :start)"
                ),
                {
                    "id": f"00000000-0000-7000-8000-{n:012d}",
                    "item": item_id,
                    "start": at,
                    "end": at + timedelta(minutes=30),
                    "uid": f"u{n}",
                },
            )
            uow.session.execute(
                text(
                    "INSERT INTO approvals (reservation_id, item_id, rule, performer,"
                    " requested_because, state, requested_at, expires_at, decided_by, reason)"
                    " VALUES (:id, :item, 'board', 'person:boss@example.com', '', 'pending',"
                    " :now, :later, '', '')"
                ),
                {
                    "id": f"00000000-0000-7000-8000-{n:012d}",
                    "item": item_id,
                    "now": start,
                    "later": start + timedelta(days=400),
                },
            )
        uow.commit()
    statements = []
    engine = api.services.engine
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        answer = api.client.get("/api/v1/approvals", params={"limit": 1}, headers=stranger(api))
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert answer.json()["results"] == []
    reads = [s for s in statements if "FROM approvals" in s]
    assert len(reads) <= 5, f"{len(reads)} queries of approvals for one empty page"


def test_an_approval_id_past_the_columns_range_is_not_found(approving_api):
    """The route takes ids up to 2**62; the approvals' id column is a 32-bit integer, and
    PostgreSQL refuses 99999999999 as out of range: a server error, where SQLite says 404."""
    api = approving_api
    answer = api.get("/api/v1/approvals/99999999999")
    assert answer.status_code == 422  # no such id can exist: bad input, never a 500
    assert "less than or equal to 2147483647" in answer.json()["message"]
