"""The domain stays pure: no database, no HTTP, no clock, no environment."""

from __future__ import annotations

import ast
from pathlib import Path

import calsync

DOMAIN = Path(calsync.__file__).parent / "domain"
# No provider format either: iCalendar is the CalDAV adapter's (calsync.providers.ical).
ALLOWED = {"dateutil", "zoneinfo", "calsync"}
STDLIB_PURE = {
    "__future__", "bisect", "collections", "dataclasses", "datetime", "enum", "functools",
    "itertools", "typing", "re", "math",
}  # fmt: skip
FORBIDDEN_CALLS = {"now", "utcnow", "today", "getenv", "environ"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_domain_imports_nothing_that_does_io():
    for path in DOMAIN.glob("*.py"):
        foreign = imports(path) - ALLOWED - STDLIB_PURE
        assert not foreign, f"{path.name} imports {sorted(foreign)}"


def test_the_domain_imports_nothing_from_the_store_or_providers():
    for path in DOMAIN.glob("*.py"):
        text = path.read_text()
        for layer in ("calsync.store", "calsync.providers", "calsync.sync", "calsync.config"):
            assert layer not in text, f"{path.name} reaches into {layer}"


def test_the_domain_never_reads_the_clock_or_the_environment():
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                assert node.attr not in FORBIDDEN_CALLS, f"{path.name} uses .{node.attr}"
