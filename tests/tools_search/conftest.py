import csv
from pathlib import Path

import pytest

QUESTIONS = Path(__file__).with_name("demo_questions.tsv")


@pytest.fixture(scope="session")
def demo_questions() -> list[dict[str, str]]:
    """Questions written with the demo corpus, each answered by one of its files."""
    with QUESTIONS.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="session")
def search_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("search-cache")


@pytest.fixture(autouse=True)
def search_env(tmp_path, monkeypatch, search_cache):
    """No stray gba.toml or SearXNG endpoint; the demo index is built once per session."""
    for name in (
        "SEARXNG_URL",
        "WIKIPEDIA_INDEX",
        "RERANKER",
        "EMBEDDING_MODEL",
        "FETCH_PRIVATE_ADDRESSES",
        "SNIPPETS_ONLY",
        "SEARCH_ANSWER",
    ):
        monkeypatch.delenv(f"GBA_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GBA_SEARCH_CACHE_DIR", str(search_cache))
    return tmp_path


@pytest.fixture(scope="session")
def demo_index(search_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GBA_SEARCH_CACHE_DIR", str(search_cache))
        from gba_tools_search.wikipedia import ensure_demo_index

        return ensure_demo_index()


@pytest.fixture
def search_llm(monkeypatch):
    """A scripted tool LLM for both stages of the generated answer (which it switches
    on): notes repeat the document's first words, the answer names how many notes it
    read."""
    from gba_core.llm.scripted import ScriptedLLM

    monkeypatch.setenv("GBA_SEARCH_ANSWER", "generate")

    def reply(call):
        prompt = call.messages[-1]["content"]
        if "note" in call.schema.model_fields:
            return {"note": "NOTE " + prompt.split(": ", 2)[-1][:60]}
        return {"answer": f"ANSWER from {prompt.count('Note from')} notes"}

    return ScriptedLLM(default=reply)
