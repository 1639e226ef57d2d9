"""The Google emulator fixture for the review reproductions."""

from tests.providers.google.conftest import google  # noqa: F401 - the fixture
