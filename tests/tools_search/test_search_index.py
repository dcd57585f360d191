"""The passage index: build, resume after an interrupt, search, and bad indexes."""

import json
import sqlite3

import numpy as np
import pytest

from gba_core.errors import ConfigError
from gba_tools_search.corpus import open_source
from gba_tools_search.embed import load_embedder
from gba_tools_search.index import SearchIndex, SearchIndexError
from gba_tools_search.index_build import BuildOptions, build_index
from gba_tools_search.wikipedia import RetrievalParams, demo_corpus, open_index, retrieve

SMALL = BuildOptions(chunk_passages=16, calibration_passages=32, batch_size=8)


@pytest.fixture
def corpus(tmp_path):
    """Twelve real documents of the demo corpus as JSONL."""
    path = tmp_path / "corpus.jsonl"
    with path.open("w") as f:
        for doc in list(open_source(demo_corpus()))[:12]:
            f.write(json.dumps({"title": doc.title, "text": doc.text, "url": doc.url}) + "\n")
    return path


def snapshot(path):
    db = sqlite3.connect(path / "index.sqlite")
    rows = {
        "passages": db.execute("SELECT * FROM passages ORDER BY id").fetchall(),
        "documents": db.execute("SELECT * FROM documents ORDER BY id").fetchall(),
        "meta": dict(db.execute("SELECT key, value FROM meta WHERE key != 'source'")),
    }
    db.close()
    return rows, (path / "binary.u8").read_bytes(), (path / "int8.i8").read_bytes()


def interrupted_build(corpus, out, after_passages):
    def stop(done, passages):
        if passages >= after_passages:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(open_source(corpus), out, options=SMALL, on_progress=stop)


def test_an_interrupted_build_resumes_to_the_same_index(corpus, tmp_path, monkeypatch):
    fresh = tmp_path / "fresh"
    counts = build_index(open_source(corpus), fresh, options=SMALL)
    assert counts["documents"] == 12 and counts["passages"] > 40
    resumed = tmp_path / "resumed"
    interrupted_build(corpus, resumed, after_passages=45)
    with pytest.raises(SearchIndexError, match=r"did not finish.*resume"):
        SearchIndex(resumed)
    committed = int(
        sqlite3.connect(resumed / "index.sqlite")
        .execute("SELECT value FROM meta WHERE key = 'passages'")
        .fetchone()[0]
    )
    assert 0 < committed < counts["passages"]
    # A crash between appending a chunk's rows and committing it leaves extra rows.
    with open(resumed / "int8.i8", "ab") as f:
        f.write(b"\x7f" * 384 * 5)
    embedder, embedded = load_embedder(""), []
    encode = embedder.encode
    monkeypatch.setattr(
        embedder, "encode", lambda texts, **kw: embedded.extend(texts) or encode(texts, **kw)
    )
    assert build_index(open_source(corpus), resumed, options=SMALL) == counts
    assert len(embedded) == counts["passages"] - committed  # nothing committed is redone
    assert snapshot(resumed) == snapshot(fresh)


def test_rebuilding_needs_overwrite_and_resuming_needs_the_same_settings(corpus, tmp_path):
    out = tmp_path / "idx"
    build_index(open_source(corpus), out, options=SMALL)
    with pytest.raises(ConfigError, match="complete index; use --overwrite"):
        build_index(open_source(corpus), out, options=SMALL)
    assert build_index(open_source(corpus), out, options=SMALL, overwrite=True)["documents"] == 12
    partial = tmp_path / "partial"
    interrupted_build(corpus, partial, after_passages=45)
    with open(partial / "binary.u8", "r+b") as f:
        f.truncate(10)  # a damaged array cannot be resumed
    with pytest.raises(ConfigError, match=r"binary.u8 is shorter .* \(use --overwrite\)"):
        build_index(open_source(corpus), partial, options=SMALL)
    partial = tmp_path / "partial2"
    interrupted_build(corpus, partial, after_passages=45)
    with pytest.raises(ConfigError, match="other settings \\(max_chars\\)"):
        build_index(
            open_source(corpus),
            partial,
            options=BuildOptions(max_chars=500, calibration_passages=32),
        )


@pytest.fixture
def small_index(corpus, tmp_path):
    out = tmp_path / "idx"
    build_index(open_source(corpus), out, options=SMALL)
    return SearchIndex(out)


def test_int8_rescoring_approximates_float_similarity(small_index):
    db = small_index.db
    texts = [
        r[0]
        for r in db.execute(
            "SELECT d.title || char(10) || p.text FROM passages p "
            "JOIN documents d ON d.id = p.doc_id ORDER BY p.id"
        )
    ]
    exact = load_embedder("").encode(texts)
    query = load_embedder("").encode(["Who directed the shark film?"])[0]
    approx = small_index.scores(query, np.arange(small_index.size))
    assert np.max(np.abs(approx - exact @ query)) < 0.02
    # Each passage's own embedding finds that passage first.
    for pid in (0, small_index.size // 2, small_index.size - 1):
        assert small_index.search(exact[pid], top_k=3, rescore_multiplier=4)[0][0] == pid


def test_missing_incomplete_and_corrupt_indexes_are_clear_errors(small_index, tmp_path):
    with pytest.raises(SearchIndexError, match=r"no search index at .*gba search index build"):
        SearchIndex(tmp_path / "nowhere")
    path = small_index.path
    with open(path / "int8.i8", "r+b") as f:
        f.truncate(100)
    with pytest.raises(SearchIndexError, match=r"corrupt index \(int8.i8 has 100 bytes"):
        SearchIndex(path)
    (path / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SearchIndexError, match="corrupt index"):
        SearchIndex(path)


def test_the_demo_index_is_built_once_and_finds_the_documents_that_answer(
    demo_index, demo_questions
):
    index = open_index(demo_index)
    assert index.n_documents >= 60 and index.size >= 300
    mtime = (demo_index / "index.sqlite").stat().st_mtime
    from gba_tools_search.wikipedia import ensure_demo_index

    assert ensure_demo_index() == demo_index
    assert (demo_index / "index.sqlite").stat().st_mtime == mtime  # cached, not rebuilt
    questions = demo_questions
    misses = []
    for q in questions:
        found = retrieve(index, q["question"], RetrievalParams())
        if q["file"] not in [d.url for d in found.documents]:
            misses.append(q["question"])
    assert len(misses) <= len(questions) // 10, misses
