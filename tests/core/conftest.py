"""Core tests run against gba's built-ins only, as llm's and datasette's do: a test that
wants a plugin registers it (``register_plugin``), so whatever else is installed in the
environment cannot change what core's tests see. A test of loading plugins from entry
points (the installed ones, or fake distributions) says so with
``@pytest.mark.entry_points``."""

from collections.abc import Iterator

import pytest

from gba_core import plugins


@pytest.fixture(autouse=True)
def builtins_only(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("entry_points"):
        yield
        return
    monkeypatch.setenv("GBA_PLUGINS", plugins.NO_PLUGINS)
    plugins.reset()
    yield
    monkeypatch.delenv("GBA_PLUGINS")
    plugins.reset()
