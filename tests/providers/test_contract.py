"""Every adapter keeps the same contract: CalDAV on a real Radicale, and the in-memory twin."""

from __future__ import annotations

import uuid

import pytest

from calsync.providers.memory import InMemoryProvider
from tests.providers.contract import ProviderContract


@pytest.mark.radicale
class TestCalDAVOnRadicale(ProviderContract):
    """Fixtures `provider` and `calendar` come from tests/providers/conftest.py."""


class TestInMemoryProvider(ProviderContract):
    @pytest.fixture
    def provider(self):
        return InMemoryProvider()

    @pytest.fixture
    def calendar(self, provider):
        path = f"/rooms/{uuid.uuid4().hex[:8]}/"
        provider.make_calendar(path)
        return path
