import pytest

from gba_core.registry import get_llm


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def embedded():
    """The embedded Gemma 3 270M, loaded once for the whole session."""
    return get_llm("llama-cpp:gemma-3-270m")


@pytest.fixture(scope="session")
def embedded_path():
    from gba_core.llm.embedded import embedded_model_path

    return embedded_model_path("gemma-3-270m")
