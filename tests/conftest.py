"""The whole suite runs in two lanes in one pytest call, the README's: the unit tests
first (lint, types, import contracts, everything on a scripted LLM: minutes), then the
integration tests (the embedded model, real servers, training), which are skipped when a
unit test failed, so a broken change fails in minutes rather than after the model runs."""

import os

import pytest

# Load errors in plugins fail the tests instead of being listed and skipped.
os.environ.setdefault("GBA_STRICT_PLUGINS", "1")


def is_integration(item: pytest.Item) -> bool:
    return item.get_closest_marker("integration") is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=is_integration)  # stable: each lane keeps the file order


def pytest_runtest_setup(item: pytest.Item) -> None:
    if is_integration(item) and item.session.testsfailed:
        pytest.skip("a unit test failed; the integration tests run once the unit tests pass")
