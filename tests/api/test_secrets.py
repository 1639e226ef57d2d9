"""No credential leaves through the API: with a CalDAV password and a bearer token planted
in the connections' environment, after a synchronization, answers and a reprocess, no
answer of any route (lists, every record shown whole, connection tests, health, metrics,
errors) holds either, in any form."""

from __future__ import annotations

import base64

from tests.api.conftest import BEARER, PASSWORD, fail_event
from tests.api.routes import ROUTES

FORMS = [
    PASSWORD,
    BEARER,
    base64.b64encode(f"calsync:{PASSWORD}".encode()).decode(),
    base64.b64encode(PASSWORD.encode()).decode()[:16],
]


def every_answer(api) -> list[tuple[str, str]]:
    answers = []

    def keep(method, path, **kwargs):
        answer = api.call(method, path, "admin", **kwargs)
        answers.append((f"{method} {path} -> {answer.status_code}", answer.text))
        return answer

    for route in ROUTES:
        keep(route.method, route.url, json=route.body, params=route.params)
    for listing in ("events", "calendar-items", "synchronizations", "reservations"):
        for row in keep("GET", f"/api/v1/{listing}", params={"limit": 500}).json()["results"]:
            keep("GET", f"/api/v1/{listing}/{row['id']}")
    for name in ("dav", "bearer"):
        keep("POST", f"/api/v1/connections/{name}/test")
        keep("GET", f"/api/v1/connections/{name}/health")
    keep("POST", "/api/v1/reservations", json={"item": "Room A", "start": PASSWORD, "end": BEARER})
    keep("GET", "/api/v1/events", params={"cursor": PASSWORD})
    keep("GET", "/healthz")
    keep("GET", "/openapi.json")
    return answers


def test_no_answer_holds_a_credential(synchronized):
    api = synchronized
    fail_event(api, "respond", "ProviderRejected: PUT answered 403")
    api.post("/api/v1/events/reprocess", json={"item": "Room A"})
    answers = every_answer(api)
    assert len(answers) > 30
    tested = [text for what, text in answers if "/test" in what]
    assert all('"ok":true' in text for text in tested), tested
    for what, text in answers:
        for form in FORMS:
            assert form not in text, f"{what} holds a credential"
