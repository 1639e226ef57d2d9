"""Google's refusals in calsync's errors (PROVIDERS.md §1.5), and the service account's
tokens: fetched once, kept, refreshed once when Google refuses one, never shown."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from calsync.config import GoogleConnection
from calsync.errors import (
    ConfigError,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
)
from calsync.providers import load
from calsync.providers.base import Capabilities, RoomAnswer
from calsync.providers.google import GoogleCalendarProvider, read_event
from calsync.providers.wire import Limits
from tests.providers.google.conftest import (
    KEY_VARIABLE,
    ROOM,
    SUBJECT,
    booking,
    make_provider,
    someone_elses,
    timed,
)

pytestmark = pytest.mark.timeout(30)


def test_the_adapter_is_registered_with_what_it_can_do():
    assert load("google") is GoogleCalendarProvider
    assert GoogleCalendarProvider.capabilities == Capabilities(
        delta_keys=True,
        push=True,
        expands_instances=True,
        room_decides=True,
        cheap_to_read=True,
        answers_series=True,
    )


def test_its_reader_is_the_module_level_read_event(provider):
    assert provider.object_reader() is read_event


@pytest.mark.parametrize("status", [429, 403])
def test_rate_limits_are_throttling_after_the_retry_after_delay(google, provider, status):
    google.fail_next(1, status=status, reason="rateLimitExceeded", retry_after=7)
    with pytest.raises(ProviderThrottled, match=f"{status} rateLimitExceeded") as throttled:
        provider.fetch_changes(ROOM, None)
    assert throttled.value.retry_after == 7


def test_a_user_rate_limit_without_retry_after_leaves_the_delay_to_the_caller(google, provider):
    google.fail_next(1, status=403, reason="userRateLimitExceeded")
    with pytest.raises(ProviderThrottled, match="userRateLimitExceeded") as throttled:
        provider.fetch_changes(ROOM, None)
    assert throttled.value.retry_after is None


def test_exceeded_usage_limits_wait_an_hour(google, provider):
    google.fail_next(1, status=403, reason="quotaExceeded")
    with pytest.raises(ProviderThrottled, match="usage limits were exceeded") as throttled:
        provider.book(ROOM, booking())
    assert throttled.value.retry_after == 3600


def test_a_field_only_the_organizer_may_change_is_a_rejection_naming_the_reason(google, provider):
    made = google.put_event(ROOM, someone_elses())
    google.fail_next(1, status=403, reason="forbiddenForNonOrganizer", methods=["PATCH"])
    with pytest.raises(ProviderRejected, match="forbiddenForNonOrganizer") as refused:
        provider.edit(
            ROOM,
            made["id"],
            made["etag"],
            None,
            RoomAnswer(ROOM, "ACCEPTED", datetime(2026, 3, 1, tzinfo=UTC)),
        )
    assert refused.value.status == 403


def test_a_bad_request_is_a_rejection(google, provider):
    google.fail_next(1, status=400, reason="invalid", message="Invalid time zone definition")
    with pytest.raises(ProviderRejected, match="Invalid time zone definition") as refused:
        provider.book(ROOM, booking())
    assert refused.value.status == 400


def test_server_errors_are_unavailability_or_throttling_with_a_retry_after(google, provider):
    google.fail_next(1, status=500, reason="backendError")
    with pytest.raises(ProviderUnavailable, match="backendError"):
        provider.fetch_changes(ROOM, None)
    google.fail_next(1, status=503, reason="backendError")
    with pytest.raises(ProviderUnavailable, match="503 backendError") as unavailable:
        provider.fetch_changes(ROOM, None)
    assert not isinstance(unavailable.value, ProviderThrottled)
    google.fail_next(1, status=500, reason="backendError", retry_after=30)
    with pytest.raises(ProviderThrottled) as throttled:
        provider.fetch_changes(ROOM, None)
    assert throttled.value.retry_after == 30
    assert provider.fetch_changes(ROOM, None).full


def test_the_token_is_fetched_once_and_kept(google, provider):
    google.put_event(ROOM, timed(3, 9))
    provider.fetch_changes(ROOM, None)
    provider.fetch_changes(ROOM, None)
    assert google.token_requests == 1
    assert google.token_subjects == [SUBJECT]


def test_threads_starting_together_ask_for_one_token(google, provider):
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: provider.fetch_changes(ROOM, None), range(8)))
    assert all(b.full for b in batches)
    assert google.token_requests == 1


def test_a_revoked_token_is_refreshed_once_and_the_request_asked_again(google, provider):
    google.put_event(ROOM, timed(3, 9))
    key = provider.fetch_changes(ROOM, None).delta_key
    google.revoke_tokens()
    batch = provider.fetch_changes(ROOM, key)
    assert batch.changes == ()
    assert google.token_requests == 2
    assert batch.exchange.requests == 2
    assert [r.status for r in google.requests if r.operation == "events.list"][-2:] == [401, 200]


def test_credentials_refused_with_a_fresh_token_too_are_a_401_rejection(google, provider):
    google.fail_next(2, status=401, reason="authError", domain="global")
    with pytest.raises(
        ProviderRejected, match="refused the service account's credentials"
    ) as refused:
        provider.fetch_changes(ROOM, None)
    assert refused.value.status == 401
    assert google.token_requests == 2


def test_a_refused_token_request_is_a_401_rejection_without_the_key(google):
    google.fail_token_requests(1)
    info = google.service_account_info("example.com")
    with make_provider(google) as provider, pytest.raises(ProviderRejected) as refused:
        provider.fetch_changes(ROOM, None)
    assert refused.value.status == 401
    message = str(refused.value)
    assert "invalid_grant" in message
    assert SUBJECT in message
    assert "PRIVATE KEY" not in message
    assert info["private_key"].splitlines()[1][:20] not in message


def test_a_subject_outside_the_delegated_domain_is_refused(google):
    info = google.service_account_info("example.com")
    provider = GoogleCalendarProvider(info, "mallory@elsewhere.org", api_url=google.api_url)
    with provider, pytest.raises(ProviderRejected, match="unauthorized_client") as refused:
        provider.fetch_changes(ROOM, None)
    assert refused.value.status == 401


def test_an_unreachable_token_endpoint_is_unavailability(google):
    info = {**google.service_account_info("example.com"), "token_uri": "http://127.0.0.1:9/token"}
    provider = GoogleCalendarProvider(info, SUBJECT, api_url=google.api_url, timeout=2.0)
    with provider, pytest.raises(ProviderUnavailable, match="access token"):
        provider.fetch_changes(ROOM, None)


def test_a_key_that_is_no_key_is_a_configuration_error(google):
    info = {**google.service_account_info("example.com"), "private_key": "not a key"}
    with pytest.raises(ConfigError, match="service account key cannot be used"):
        GoogleCalendarProvider(info, SUBJECT, api_url=google.api_url)


def test_the_provider_is_built_from_its_connection_settings(google, google_key):
    connection = GoogleConnection(
        kind="google",
        subject=SUBJECT,
        service_account_env=KEY_VARIABLE,
        api_url=google.api_url,
        page_size=1,
    )
    limits = Limits(max_sync_rounds=5)
    with GoogleCalendarProvider.from_settings(connection, limits) as provider:
        assert (provider.page_size, provider.limits) == (1, limits)
        google.put_event(ROOM, timed(3, 9))
        google.put_event(ROOM, timed(4, 9))
        assert provider.fetch_changes(ROOM, None).exchange.requests == 2


def test_a_token_google_echoes_back_is_redacted_from_errors_and_exchanges(google, provider):
    token = provider._tokens.current()
    google.fail_next(1, status=400, reason="invalid", message=f"Bad token {token}")
    with pytest.raises(ProviderRejected) as refused:
        provider.fetch_changes(ROOM, None)
    assert token not in str(refused.value)
    assert "Bad token [redacted]" in str(refused.value)
    assert token not in provider._wire.redact(f"echo {token}")
