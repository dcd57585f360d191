"""search_wikipedia: retrieval from a local passage index, then an LLM answer.

Query path: binary Hamming search for ``similarity_top_k * rescore_multiplier``
candidates → int8 rescoring to ``similarity_top_k`` → rerank (a cross-encoder when one
is configured, else the embedding scores) to ``top_k_nodes`` → group by document → the
best other passages of the ``top_k_related_documents`` first documents
(``top_k_related_nodes`` each) → per-document summaries → one answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gba_core.roles import ToolRole
from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext

from .answer import Found, answer, roles_in_use
from .settings import RetrievalParams, cache_dir, settings

if TYPE_CHECKING:  # numpy and faiss load when a search runs, not with the plugin
    from .index import SearchIndex

DESCRIPTION = (
    "Search Wikipedia for factual, encyclopedic information about people, places, events, "
    "films, sports, science and history. The task is a question or topic in plain words; "
    "the result is a short answer with the articles it came from."
)


@dataclass
class Retrieval:
    query: str
    nodes: list[tuple[int, float]] = field(default_factory=list)  # (passage id, score)
    documents: list[Found] = field(default_factory=list)


def demo_corpus() -> Path:
    return Path(str(resources.files(__package__) / "data" / "demo_corpus"))


def demo_index_path() -> Path:
    """Where the demo corpus's index lives: in the cache, keyed by the corpus contents,
    so editing the corpus or upgrading the package builds a fresh one."""
    from .index import FORMAT_VERSION

    digest = hashlib.sha256(f"format {FORMAT_VERSION}".encode())
    for file in sorted(demo_corpus().glob("*.md")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return cache_dir() / f"demo-{digest.hexdigest()[:16]}"


def ensure_demo_index() -> Path:
    """The demo index, built on first use (one process builds, others wait)."""
    from filelock import FileLock

    from .index import SearchIndex, SearchIndexError

    path = demo_index_path()
    if (path / "index.sqlite").is_file():
        try:
            SearchIndex(path).close()
            return path
        except SearchIndexError:
            pass  # an interrupted first build: resume it below
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        try:
            SearchIndex(path).close()
            return path
        except SearchIndexError:
            import sys

            from .corpus import open_source
            from .index_build import BuildOptions, build_index

            print(
                f"gba-tools-search: building the demo index in {path} (first use)…", file=sys.stderr
            )
            # overwrite: a half-built demo index from another version is simply redone.
            build_index(
                open_source(demo_corpus()), path, options=BuildOptions(model=""), overwrite=True
            )
    return path


def index_path() -> Path:
    return settings().wikipedia_index or ensure_demo_index()


@lru_cache(maxsize=4)
def _open(path: str, mtime: float) -> SearchIndex:
    from .index import SearchIndex

    return SearchIndex(Path(path))


def open_index(path: Path | None = None) -> SearchIndex:
    path = path or index_path()
    db = path / "index.sqlite"
    return _open(str(path), db.stat().st_mtime if db.exists() else 0.0)


def retrieve(index: SearchIndex, query: str, params: RetrievalParams) -> Retrieval:
    import numpy as np

    from .embed import load_embedder, load_reranker

    embedder = load_embedder(index.model)
    reranker = load_reranker(settings().reranker)
    q = embedder.encode([query])[0]
    hits = index.search(q, params.similarity_top_k, params.rescore_multiplier)
    passages = {p.id: p for p in index.passages(pid for pid, _ in hits)}
    if reranker:
        texts = [passages[pid].text for pid, _ in hits]
        scores = reranker.score(query, texts)
        hits = [(pid, float(s)) for (pid, _), s in zip(hits, scores, strict=True)]
        hits.sort(key=lambda hit: -hit[1])
    nodes = hits[: params.top_k_nodes]
    chosen: dict[int, list[int]] = {}  # doc id -> passage ids, best document first
    for pid, _ in nodes:
        chosen.setdefault(passages[pid].doc_id, []).append(pid)
    for doc_id in list(chosen)[: params.top_k_related_documents]:
        others = [pid for pid in index.document_passages(doc_id) if pid not in chosen[doc_id]]
        if not others or params.top_k_related_nodes <= 0:
            continue
        if reranker:
            texts = [p.text for p in index.passages(others)]
            scores = reranker.score(query, texts)
        else:
            scores = index.scores(q, np.asarray(others, dtype=np.int64))
        best = np.argsort(-np.asarray(scores), kind="stable")[: params.top_k_related_nodes]
        chosen[doc_id].extend(others[i] for i in best)
    documents = []
    for pids in list(chosen.values())[: params.max_documents]:
        found = sorted(index.passages(pids), key=lambda p: p.ord)
        documents.append(Found(found[0].title, found[0].url, [p.text for p in found]))
    return Retrieval(query=query, nodes=nodes, documents=documents)


class SearchWikipedia(Tool):
    name = "search_wikipedia"
    description = DESCRIPTION

    @property
    def roles(self) -> tuple[ToolRole, ...]:  # type: ignore[override]
        return roles_in_use()

    def __init__(self, index: Path | None = None, params: RetrievalParams | None = None) -> None:
        self.index = index
        self.params = params

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        query = " ".join(task.split())
        if not query:
            return "Error: the search task is empty; say what to look up."
        from .index import SearchIndexError

        try:
            index = open_index(self.index)
        except SearchIndexError as exc:
            return f"Error: Wikipedia search is unavailable: {exc}"
        found = retrieve(index, query, self.params or settings().retrieval)
        return answer(ctx, query, found.documents, request)
