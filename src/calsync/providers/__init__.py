"""Calendar provider adapters, registered by kind and imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

from calsync.errors import ConfigError

KINDS = {
    "caldav": "calsync.providers.caldav:CalDAVProvider",
    "google": "calsync.providers.google:GoogleCalendarProvider",
}


def load(kind: str) -> Any:
    """The adapter class for `kind`; an unknown kind names the valid ones."""
    if kind not in KINDS:
        raise ConfigError(f"unknown provider kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    module_name, _, class_name = KINDS[kind].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert cls.kind == kind, f"{KINDS[kind]} declares kind {cls.kind!r}"
    return cls
