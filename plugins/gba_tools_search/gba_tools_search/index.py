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

Building one is ``index_build``'s job; this module opens and queries a finished one.

The int8 rows are mapped with MADV_RANDOM: rescoring touches scattered rows, and
without it the kernel's readahead and fault-around page in whole neighbourhoods.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gba_core.errors import GbaError

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
