"""Every operation of the OpenAPI document, called by schemathesis with inputs drawn from
the document, valid and not, answers without a server error, on SQLite and PostgreSQL.

The run is bounded and derandomized: the same examples per operation each time, so a
failure found once is found again. An admin's token goes with every call, so that the
requests reach the routes' own code instead of stopping at 401. All operations run even
when one fails; the failure lists each operation that answered 5xx with its example.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

#: Examples per operation (half valid, half not): both backends together stay within
#: about a minute on a shared 2-CPU machine.
EXAMPLES = 16

BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def server_errors(operation: Any, headers: dict[str, str]) -> str | None:
    """The first server error schemathesis found on `operation`, shrunk, or None."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    failing: list[Any] = []

    @BOUNDED
    @given(case=cases)
    def call(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception:
            failing.append(case)  # the last one is the shrunk example hypothesis replays
            raise

    try:
        call()
    except Exception as failure:  # noqa: BLE001 - each operation's failure is collected
        return f"{operation.label}: {failure}\n  {failing[-1].as_curl_command() if failing else ''}"
    return None


def test_no_operation_answers_a_server_error(api):
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    headers = api.headers("admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, "the document lists the API's operations"
    found = [error for op in operations if (error := server_errors(op, headers)) is not None]
    assert not found, "\n\n".join(found)
