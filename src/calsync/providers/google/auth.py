"""Access tokens of a service account acting as a Workspace user: `AccessTokens`.

google-auth builds and signs the assertion and reads the token endpoint's answer
(`google.oauth2.service_account.Credentials`, OAuth 2.0 for server to server
applications: https://developers.google.com/identity/protocols/oauth2/service-account,
domain-wide delegation by `subject`). It talks HTTP through `HttpxRequest`, its
`google.auth.transport.Request` on httpx, each token request within the connection's
deadline and a 1 MB answer. A token is kept until google-auth deems it about to expire;
one lock makes the threads that share a provider refresh it once, not each.

`BearerWire` is the API's `wire.Wire`, its texts kept free of these tokens as well.

Failures, in calsync's errors: a refused refresh (`RefreshError`: a bad key, a subject
the account may not act as, a revoked grant) is ProviderRejected(401), one that Google
calls retryable (5xx, 429) or a transport failure is ProviderUnavailable. Messages name
Google's error, never the key or a token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
from google.auth import exceptions as auth_errors
from google.auth import transport
from google.oauth2 import service_account

from calsync.errors import ConfigError, ProviderRejected, ProviderUnavailable
from calsync.providers import deadlines
from calsync.providers.wire import Limits, Wire

SCOPES = ("https://www.googleapis.com/auth/calendar",)
MAX_TOKEN_ANSWER_BYTES = 1_000_000
#: Tokens remembered for redaction (a server echoing one back): the last few handed out.
_KEPT_TOKENS = 4
_SHOWN = 200


class _Response(transport.Response):
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class HttpxRequest(transport.Request):
    """google-auth's HTTP requests over an `httpx.Client`, each within `deadline_seconds`
    and an answer of at most `MAX_TOKEN_ANSWER_BYTES`."""

    def __init__(self, client: httpx.Client, deadline_seconds: float) -> None:
        self._client = client
        self._deadline_seconds = deadline_seconds

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,  # noqa: ARG002 - options of other transports (requests'), none here
    ) -> _Response:
        deadline = time.perf_counter() + self._deadline_seconds
        wait = self._client.timeout if timeout is None else min(timeout, self._deadline_seconds)
        try:
            with deadlines.until(deadline):
                request = self._client.build_request(
                    method, url, content=body, headers=dict(headers or {}), timeout=wait
                )
                response = self._client.send(request, stream=True)
                try:
                    data = self._read(response, deadline)
                finally:
                    response.close()
        except httpx.HTTPError as error:
            raise _transport_error(f"{method} {url} failed: {error}") from error
        return _Response(response.status_code, dict(response.headers), data)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        parts, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_TOKEN_ANSWER_BYTES:
                raise _transport_error(
                    f"the token endpoint's answer passed {MAX_TOKEN_ANSWER_BYTES} bytes"
                )
            if time.perf_counter() > deadline:
                raise _transport_error(
                    f"the token endpoint did not answer within {self._deadline_seconds:g} s"
                )
            parts.append(chunk)
        return b"".join(parts)


class AccessTokens:
    """The bearer tokens of one service account acting as `subject`, refreshed as needed."""

    def __init__(
        self,
        service_account_info: Mapping[str, Any],
        subject: str,
        *,
        timeout: float,
        deadline_seconds: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(service_account_info), scopes=list(SCOPES), subject=subject
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(
                f"the Google service account key cannot be used: {type(error).__name__}: "
                f"{_shown(str(error))}"
            ) from None
        self.subject = subject
        self._client = httpx.Client(
            timeout=min(timeout, deadline_seconds),
            transport=transport or deadlines.transport(),
        )
        self._request = HttpxRequest(self._client, deadline_seconds)
        self._lock = threading.Lock()
        self._issued: list[str] = []

    def current(self) -> str:
        """A token that google-auth deems valid for a while yet, refreshed if it is not."""
        with self._lock:
            if not self._credentials.valid:
                self._refresh()
            return str(self._credentials.token)

    def refreshed(self, refused: str) -> str:
        """A new token after Google refused `refused`; a thread that finds another thread
        already replaced it takes the replacement instead of asking again."""
        with self._lock:
            if self._credentials.token == refused or not self._credentials.valid:
                self._refresh()
            return str(self._credentials.token)

    @property
    def issued(self) -> tuple[str, ...]:
        """The last tokens handed out, for redaction."""
        return tuple(self._issued)

    def close(self) -> None:
        self._client.close()

    def _refresh(self) -> None:
        try:
            self._credentials.refresh(self._request)
        except auth_errors.RefreshError as error:
            what = f"getting an access token for {self.subject}"
            if error.retryable:
                raise ProviderUnavailable(f"{what}: {_reason(error)}") from None
            raise ProviderRejected(
                f"{what}: Google refused the service account ({_reason(error)})", 401
            ) from None
        except auth_errors.TransportError as error:
            raise ProviderUnavailable(
                f"getting an access token for {self.subject}: {_reason(error)}"
            ) from None
        except (auth_errors.GoogleAuthError, ValueError, TypeError, KeyError) as error:
            raise ProviderRejected(
                f"getting an access token for {self.subject}: {type(error).__name__}: "
                f"{_reason(error)}",
                401,
            ) from None
        self._issued = [*self._issued, str(self._credentials.token)][-_KEPT_TOKENS:]


class BearerWire(Wire):
    """A connection's wire whose texts are also kept free of the bearer tokens it used. It
    hands every answer over, 429 and 5xx included: Google's body says the reason."""

    reads_throttling = False

    def __init__(
        self,
        base_url: str,
        timeout: float,
        limits: Limits,
        transport: httpx.BaseTransport | None,
        tokens: AccessTokens,
    ) -> None:
        super().__init__(base_url, None, timeout, limits, transport)
        self._tokens = tokens

    def redact(self, text: str) -> str:
        for token in self._tokens.issued:
            if token:
                text = text.replace(token, "[redacted]")
        return super().redact(text)


def _transport_error(message: str) -> auth_errors.TransportError:
    """The error google-auth expects of a transport that failed."""
    return auth_errors.TransportError(message)  # type: ignore[no-untyped-call]


def _reason(error: Exception) -> str:
    """The first argument of a google-auth error ("invalid_grant: ..."), not its data."""
    return _shown(str(error.args[0]) if error.args else type(error).__name__)


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
